// `node --max-old-space-size=8192 bench/heap.ts [--server d|a] [--open N] [--label L] [--root DIR]`:
// holds N requests open in one server (the backend's latency set long enough that none is
// answered yet), writes a heap snapshot of its main thread and prints what each open request
// keeps alive, by object kind: count and bytes per open request. Snapshots land in
// bench/out/heap/ (not committed); the figures go to bench/heap.json under the label (default:
// the server), for RESULTS.md. Run `--server a` first: the others are compared with it.
//
//   --server d   this service (ACTOR_POOL_SIZE=1, in-process simulated backend)
//   --server a   baseline (a): raw node:http holding each request for the backend's delay
//   --root DIR   a checkout of another commit to measure (e.g. a `git worktree`), for before/after

import {execFileSync, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {once} from 'node:events';
import {mkdir, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';
import {parseCli} from '../scripts/cli.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {runLoad} from '../scripts/load-generator.ts';
import {mixedPlan} from '../scripts/load-plan.ts';
import {cpuSeconds} from './servers.ts';

/** Plain words for the snapshot's own kinds. */
const kindNames: Record<string, string> = {
  '(array)': 'backing arrays (property and element stores, listener lists)',
  '(hidden)': 'V8-internal objects',
  '(code)': 'compiled code (per process, not per request)',
  '(string)': 'strings',
  'object system / Context': 'closure contexts',
  'closure ': 'anonymous closures',
  'object Object': 'plain objects',
  'object Array': 'arrays',
  'object Promise': 'promises',
  'closure onevent': "ee-first's listeners (Koa's on-finished)",
};

const usage = `
node --max-old-space-size=8192 bench/heap.ts [--server d|a] [--open 10000] [--label L] [--root DIR]
                                             [--node-arg ARG …] [--top 30]

Holds N requests open in one server, writes a heap snapshot of its main thread and prints what
each open request keeps alive, by object kind. Snapshots land in bench/out/heap/; the figures go
to bench/heap.json under the label (default: the server). Run --server a first.
  --server d   this service (ACTOR_POOL_SIZE=1, in-process simulated backend)
  --server a   baseline (a): raw node:http holding each request for the backend's delay
  --root DIR   a checkout of another commit to measure, for before/after
`;
const values = parseCli('heap', usage, {
  server: {type: 'string', default: 'd'},
  open: {type: 'string', default: '10000'},
  'node-arg': {type: 'string', multiple: true, default: []},
  top: {type: 'string', default: '30'},
  label: {type: 'string'},
  root: {type: 'string'},
});
const open = Number(values.open);
const label = values.label ?? values.server;
const root = values.root ?? new URL('..', import.meta.url).pathname;
const dir = new URL(`./out/heap/${label}/`, import.meta.url).pathname;
await rm(dir, {recursive: true, force: true});
await mkdir(dir, {recursive: true});
const port = await freePort();
const entry = values.server === 'a' ? 'bench/baselines/raw-http.ts' : 'src/main.ts';
// Long enough that every request is still open while the snapshot is written.
const latency = {
  BACKEND_LATENCY_MIN_MS: '40000',
  BACKEND_LATENCY_MAX_MS: '40000',
  REQUEST_TIMEOUT_MS: '120000',
  MAX_PENDING_TOTAL: '1000000',
  MAX_PENDING_PER_MAILBOX: '1000000',
};
const child = spawn(
  process.execPath,
  [...values['node-arg'], '--heapsnapshot-signal=SIGUSR1', `--diagnostic-dir=${dir}`, entry],
  {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      ACTOR_POOL_SIZE: '1',
      HOLD: '1',
      ...latency,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: root,
  },
);
const url = `http://127.0.0.1:${port}`;
await waitUntilUp(`${url}/${values.server === 'a' ? 'healthz' : 'readyz'}`, {child});

// Every client sends one request, held for the backend's 40 s.
const load = runLoad({
  url,
  clients: open,
  durationMs: 20_000,
  plan: mixedPlan({agents: 4, length: 16}),
  progress: false,
});
// Until every client is connected and the server has taken every request in (its CPU goes
// quiet), then one more second.
await waitForConnections(port, open);
await waitForQuiet();
await sleep(1000);
child.kill('SIGUSR1');
const file = await waitForSnapshot(dir);
child.kill('SIGKILL');
await once(child, 'exit');
void load.catch(() => {});
const kinds = summarize(JSON.parse(await readFile(`${dir}${file}`, 'utf8')));
await record(kinds);
process.exit(0);

type Kinds = Map<string, {count: number; bytes: number}>;

/** Into bench/heap.json: KB per open request, and (against (a)'s run) what this one holds beyond it. */
async function record(mine: Kinds): Promise<void> {
  const kindsFile = new URL(`./out/heap/${label}.kinds.json`, import.meta.url);
  await writeFile(kindsFile, JSON.stringify([...mine]));
  const baseFile = new URL('./out/heap/a.kinds.json', import.meta.url);
  let extra: string | undefined;
  if (label !== 'a' && existsSync(baseFile)) {
    const base: Kinds = new Map(JSON.parse(await readFile(baseFile, 'utf8')));
    extra = [...mine]
      .map(([k, v]) => [k, (v.bytes - (base.get(k)?.bytes ?? 0)) / open] as const)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 8)
      .map(([k, b]) => `${kindNames[k] ?? k.replace(/^(object|closure) /, '')} +${b.toFixed(0)} B`)
      .join(', ');
  }
  let total = 0;
  for (const v of mine.values()) total += v.bytes;
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {cwd: root, encoding: 'utf8'}).trim();
  const file = new URL('./heap.json', import.meta.url);
  const all = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : {runs: {}};
  all.runs[label] = {
    date: new Date().toISOString(),
    commit,
    open,
    kbPerOpen: total / open / 1024,
    ...(extra && {extra}),
  };
  await writeFile(file, `${JSON.stringify(all, null, 1)}\n`);
}

/** Established connections to the server's port, from /proc/net/tcp (Linux). */
async function waitForConnections(serverPort: number, want: number): Promise<void> {
  const local = `:${serverPort.toString(16).toUpperCase().padStart(4, '0')} `;
  for (;;) {
    const table = await readFile('/proc/net/tcp', 'utf8');
    // State 01 is ESTABLISHED; count the server's side (local address on its port).
    let n = 0;
    for (const line of table.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(local.trim()) && cols[3] === '01') n++;
    }
    if (n >= want) return;
    await sleep(500);
  }
}

async function waitForQuiet(): Promise<void> {
  await sleep(2000);
  let last = await cpuSeconds([child]);
  for (;;) {
    await sleep(1000);
    const now = await cpuSeconds([child]);
    if (now - last < 0.05) return; // under 5% of a core over the last second
    last = now;
  }
}

async function waitForSnapshot(where: string): Promise<string> {
  for (;;) {
    const files = (await readdir(where)).filter((f) => f.endsWith('.heapsnapshot'));
    // Written in one go: done once its size stops growing.
    if (files.length > 0) {
      const size = async () => (await stat(`${where}${files[0]}`)).size;
      const a = await size();
      await sleep(2000);
      if (a > 0 && a === (await size())) return files[0];
    }
    await sleep(1000);
  }
}

interface Snapshot {
  snapshot: {meta: {node_fields: string[]; node_types: [string[], ...unknown[]]}};
  nodes: number[];
  strings: string[];
}

function summarize(heap: Snapshot): Kinds {
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = heap.snapshot.meta.node_types[0];
  const kinds = new Map<string, {count: number; bytes: number}>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    const name = heap.strings[heap.nodes[i + nameAt]];
    const bytes = heap.nodes[i + sizeAt];
    total += bytes;
    // Strings and numbers by type (their names are their contents); objects by constructor.
    const key =
      type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : `(${type})`;
    const kind = kinds.get(key) ?? {count: 0, bytes: 0};
    kind.count++;
    kind.bytes += bytes;
    kinds.set(key, kind);
  }
  console.log(
    `${values.server}: ${(total / 2 ** 20).toFixed(1)} MB live on the main thread with ${open} requests open: ${(total / open / 1024).toFixed(1)} KB per open request`,
  );
  console.log('  per open request: objects, bytes · kind');
  for (const [key, kind] of [...kinds].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, Number(values.top))) {
    console.log(
      `${(kind.count / open).toFixed(2).padStart(8)} ${(kind.bytes / open).toFixed(0).padStart(7)} B · ${key}`,
    );
  }
  return kinds;
}
