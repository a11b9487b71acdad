// `node bench/profile.ts [--server d1|b|…] [--clients N] [--seconds S] [--agents A] [--length L]
// [--rate R] [--latency MIN,MAX] [--http-backend] [--no-profile] [--alloc]`: runs one of the bench's servers (default:
// this service as shipped) under --cpu-prof with a gateway-bound load (or, with --latency 3000,7000
// and thousands of clients, the seed's requests held open; --http-backend: the bench's recording
// backend over HTTP in its own process instead of the in-process one) and prints the server's CPU per request and the top
// functions by self time, per thread. --alloc also samples the main thread's allocations during
// the load (bench/alloc-sampler.ts) and prints the bytes allocated per request, by function.
// Profiles land in bench/out/profile/.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {mkdir, readdir, readFile, rm} from 'node:fs/promises';
import {parseCli} from '../scripts/cli.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {quantile, runLoad} from '../scripts/load-generator.ts';
import {mixedPlan} from '../scripts/load-plan.ts';
import {servers} from './server-specs.ts';
import type {ServerId} from './server-specs.ts';
import {cpuSeconds} from './servers.ts';
import {startRecorder} from './recorder.ts';

const usage = `
node bench/profile.ts [--server d1|b|…] [--clients 256] [--seconds 6] [--agents 4] [--length 16] [--pool 1]
                      [--rate R] [--latency MIN,MAX] [--http-backend] [--no-profile] [--alloc] [--top 25]

Runs one of the bench's servers (default d1: this service as shipped) under --cpu-prof with a
gateway-bound load and prints its CPU per request and the top functions by self time, per thread.
  --rate R          open loop at R requests/s (--clients then caps those in flight)
  --latency A,B     the in-process backend's latency range in ms (default 0,1)
  --http-backend    the recording backend over HTTP in its own process
  --no-profile      the same run without --cpu-prof (CPU per request alone)
  --alloc           also sample the main thread's allocations, bytes per request by function
Profiles land in bench/out/profile/.
`;
const values = parseCli('profile', usage, {
  clients: {type: 'string', default: '256'},
  seconds: {type: 'string', default: '6'},
  agents: {type: 'string', default: '4'},
  length: {type: 'string', default: '16'},
  pool: {type: 'string', default: '1'},
  top: {type: 'string', default: '25'},
  server: {type: 'string', default: 'd1'},
  /** Open loop at this many requests/s (--clients then caps those in flight); default closed loop. */
  rate: {type: 'string'},
  /** The in-process backend's latency range in ms (default 0,1: gateway-bound). */
  latency: {type: 'string', default: '0,1'},
  'http-backend': {type: 'boolean', default: false},
  /** --no-profile: the same run without --cpu-prof, for CPU per request alone. */
  profile: {type: 'boolean', default: true},
  alloc: {type: 'boolean', default: false},
});
const dir = new URL('./out/profile/', import.meta.url).pathname;
await rm(dir, {recursive: true, force: true});
await mkdir(dir, {recursive: true});
const port = await freePort();
const spec = servers[values.server as ServerId];
if (!spec) throw new Error(`--server: one of ${Object.keys(servers).join(', ')}`);
const allocFile = `${dir}alloc.heapprofile`;
const [latencyMin, latencyMax = latencyMin] = values.latency.split(',');
const recorder = values['http-backend'] ? await startRecorder(Number(latencyMin), Number(latencyMax)) : undefined;
const child = spawn(
  process.execPath,
  [
    ...(spec.nodeArgs ?? []),
    ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []),
    ...(values.alloc ? ['--import', new URL('./alloc-sampler.ts', import.meta.url).pathname] : []),
    spec.entry,
  ],
  {
    env: {
      ...process.env,
      ALLOC_PROFILE_FILE: allocFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      BACKEND_LATENCY_MIN_MS: latencyMin,
      BACKEND_LATENCY_MAX_MS: latencyMax,
      ...(recorder && {BACKEND_URL: recorder.url, BACKEND_TIMEOUT_MS: '30000'}),
      MAX_PENDING_TOTAL: '1000000',
      MAX_PENDING_PER_MAILBOX: '1000000',
      ...spec.env,
      ...(values.server === 'd1' && {ACTOR_POOL_SIZE: values.pool}),
    },
    stdio: 'inherit',
  },
);
const url = `http://127.0.0.1:${port}`;
await waitUntilUp(`${url}/${spec.entry === 'src/main.ts' ? 'readyz' : ''}`, {child});
const cpuBefore = await cpuSeconds([child]);
if (values.alloc) child.kill('SIGUSR2');
const result = await runLoad({
  url,
  clients: Number(values.clients),
  rate: values.rate ? Number(values.rate) : undefined,
  durationMs: Number(values.seconds) * 1000,
  plan: mixedPlan({agents: Number(values.agents), length: Number(values.length)}),
});
const cpuUs = ((await cpuSeconds([child])) - cpuBefore) * 1e6;
const meanBatch = result.batches.size > 0 ? (result.agents / result.batches.size).toFixed(1) : '–';
console.log(
  `${spec.name}: ${(result.requests / (result.durationMs / 1000)).toFixed(0)} req/s, p50 ${quantile(result.latencies, 0.5).toFixed(1)} ms, p99 ${quantile(result.latencies, 0.99).toFixed(1)} ms, ` +
    `mean batch ${meanBatch}, ${(cpuUs / result.requests).toFixed(0)} µs CPU/req${values.profile ? ' (profiled)' : ''}`,
);
child.kill('SIGTERM');
await once(child, 'exit');
await recorder?.close();

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Node {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
const where = (frame: CallFrame) => frame.url.replace(/^.*\/(node_modules\/[^/]+|src|workers|bench)\//, '$1/');
const nameOf = (frame: CallFrame) => `${frame.functionName || '(anonymous)'} ${where(frame)}:${frame.lineNumber + 1}`;
const top = Number(values.top);

for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(await readFile(`${dir}${file}`, 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
  };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0;
    total += t;
    const name = nameOf(node.callFrame);
    byFn.set(name, (byFn.get(name) ?? 0) + t);
    const file =
      node.callFrame.url === ''
        ? `(native) ${node.callFrame.functionName}`
        : where(node.callFrame)
            .replace(/^(node_modules\/[^/]+).*$/, '$1')
            .replace(/^node:internal.*$/, 'node:internal');
    byFile.set(file, (byFile.get(file) ?? 0) + t);
  }
  const idle = [...byFn]
    .filter(([k]) => k.startsWith('(idle)') || k.startsWith('(program)'))
    .reduce((a, [, v]) => a + v, 0);
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(((total - idle) / total) * 100).toFixed(0)}% busy`);
  for (const [name, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
  console.log('  by file:');
  for (const [name, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
}

interface AllocNode {
  id: number;
  callFrame: CallFrame;
  children: AllocNode[];
}
if (values.alloc) {
  const profile = JSON.parse(await readFile(allocFile, 'utf8')) as {
    head: AllocNode;
    samples: {nodeId: number; size: number}[];
  };
  const bytesOf = new Map<number, number>();
  let total = 0;
  for (const sample of profile.samples) {
    bytesOf.set(sample.nodeId, (bytesOf.get(sample.nodeId) ?? 0) + sample.size);
    total += sample.size;
  }
  const byFn = new Map<string, number>();
  const pending = [profile.head];
  for (let node = pending.pop(); node; node = pending.pop()) {
    const bytes = bytesOf.get(node.id);
    if (bytes) byFn.set(nameOf(node.callFrame), (byFn.get(nameOf(node.callFrame)) ?? 0) + bytes);
    pending.push(...node.children);
  }
  console.log(
    `\nmain thread allocated ${(total / result.requests / 1024).toFixed(1)} KB per request (sampled, collected objects included), by function:`,
  );
  for (const [name, bytes] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(bytes / result.requests).toFixed(0).padStart(7)} B  ${name}`);
  }
}
