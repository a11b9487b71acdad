// `node bench/profile.ts [--server d1|b|…] [--clients N] [--seconds S] [--agents A] [--length L]`:
// runs one of the bench's servers (default: this service as shipped) under --cpu-prof with a
// gateway-bound load and prints the top functions by self time, per thread, and the server's CPU
// per request. Profiles land in bench/out/profile/.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {mkdir, readdir, readFile, rm} from 'node:fs/promises';
import {parseArgs} from 'node:util';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {mixedPlan, runLoad} from './load.ts';
import {servers} from './scenarios.ts';
import type {ServerId} from './scenarios.ts';
import {cpuSeconds} from './servers.ts';

const {values} = parseArgs({
  allowNegative: true,
  options: {
    clients: {type: 'string', default: '256'},
    seconds: {type: 'string', default: '6'},
    agents: {type: 'string', default: '4'},
    length: {type: 'string', default: '16'},
    pool: {type: 'string', default: '1'},
    top: {type: 'string', default: '25'},
    server: {type: 'string', default: 'd1'},
    /** --no-profile: the same run without --cpu-prof, for CPU per request alone. */
    profile: {type: 'boolean', default: true},
  },
});
const dir = new URL('./out/profile/', import.meta.url).pathname;
await rm(dir, {recursive: true, force: true});
await mkdir(dir, {recursive: true});
const port = await freePort();
const spec = servers[values.server as ServerId];
if (!spec) throw new Error(`--server: one of ${Object.keys(servers).join(', ')}`);
const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), spec.entry], {
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    BACKEND_LATENCY_MIN_MS: '0',
    BACKEND_LATENCY_MAX_MS: '1',
    ...spec.env,
    ...(values.server === 'd1' && {ACTOR_POOL_SIZE: values.pool}),
  },
  stdio: 'inherit',
});
const url = `http://127.0.0.1:${port}`;
await waitUntilUp(`${url}/${spec.entry === 'src/main.ts' ? 'readyz' : ''}`, {child});
const cpuBefore = await cpuSeconds([child]);
const result = await runLoad({
  url,
  clients: Number(values.clients),
  durationMs: Number(values.seconds) * 1000,
  plan: mixedPlan({agents: Number(values.agents), length: Number(values.length)}),
});
const cpuUs = ((await cpuSeconds([child])) - cpuBefore) * 1e6;
console.log(`${spec.name}: ${(result.requests / (result.durationMs / 1000)).toFixed(0)} req/s, ${(cpuUs / result.requests).toFixed(0)} µs CPU/req${values.profile ? ' (profiled)' : ''}`);
child.kill('SIGTERM');
await once(child, 'exit');

interface Node {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number};
  children?: number[];
}
for (const file of await readdir(dir)) {
  const profile = JSON.parse(await readFile(`${dir}${file}`, 'utf8')) as {nodes: Node[]; samples: number[]; timeDeltas: number[]};
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
    const where = node.callFrame.url.replace(/^.*\/(node_modules\/[^/]+|src|workers|bench)\//, '$1/');
    const name = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
    byFn.set(name, (byFn.get(name) ?? 0) + t);
    const file = node.callFrame.url === '' ? `(native) ${node.callFrame.functionName}` : where.replace(/:\d+$/, '').replace(/^(node_modules\/[^/]+).*$/, '$1').replace(/^node:internal.*$/, 'node:internal');
    byFile.set(file, (byFile.get(file) ?? 0) + t);
  }
  const idle = [...byFn].filter(([k]) => k.startsWith('(idle)') || k.startsWith('(program)')).reduce((a, [, v]) => a + v, 0);
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(((total - idle) / total) * 100).toFixed(0)}% busy`);
  for (const [name, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
  console.log('  by file:');
  for (const [name, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
}
