// Scenario `real-model` (`npm run bench -- --only real-model`; `--quick` for a short run): a real
// ONNX model (the example value network, 16 -> 1024 -> 1024 -> 1, written by scripts/make-model.ts
// into bench/out/) served four ways, side by side in one run on the same machine and model file:
//
//   (i)   the runtime's ceiling: one thread, full batches back to back, at the best batch size;
//   (ii)  Koa + zod + one session.run per request, inline (bench/baselines/koa-onnx.ts);
//   (iii) this service with a fixed 20 ms window (max_wait_ms 20);
//   (iv)  this service as shipped (work-conserving, latency_slo_ms 50, examples/models.json's settings).
//
// Rows/s at saturation (closed loop), p50/p99 latency at 10, 50 and 80 % of (i)'s rate (open
// loop), CPU per row (the server's processes, all threads); each with two payloads, in the same
// run: 16 agents a request, and one agent a request (many small clients, where batching across
// clients is the whole of what the gateway adds). The three servers run side by side,
// each measurement in rounds (three in the full run), the median round kept. The load generator runs on the same
// two cores as the server: every figure of (ii)–(iv) pays for it, (i) does not. Writes
// bench/real-model.json (or the --out folder's), and the RESULTS.md section and the README
// headline between their `real-model` markers, from that file (`--report-only` rewrites them
// from the last run).

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {mlp, writeMlp} from '../scripts/make-model.ts';
import {quantile, runLoad} from '../scripts/load-generator.ts';
import type {RequestPlan} from '../scripts/load-plan.ts';
import {cpuSeconds, stop} from './servers.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const sizes = [16, 1024, 1024, 1];
const d = sizes[0];
export const agentsPerRequest = 16;
/** The second payload: one agent a request. */
export const oneAgent = 1;
export const loads = [0.1, 0.5, 0.8] as const;
export const sloMs = 50;

export interface RealModelRecord {
  date: string;
  machine: string;
  model: string;
  ceiling: {batch: number; rowsPerSecond: number; batchMs: number; cpuMsPerRow: number}[];
  best: {batch: number; rowsPerSecond: number; batchMs: number};
  /** With `agentsPerRequest` agents a request. */
  servers: Record<ServerKey, ServerRecord>;
  /** The same, with one agent a request (absent from runs before it was measured). */
  oneAgent?: Record<ServerKey, ServerRecord>;
  /** Rounds of each measurement (server after server); the median is kept. */
  rounds: number;
  /** The machine's 1-minute load average at the start and end of the run: other work on the same cores shows here. */
  loadAverage: [number, number];
}
type ServerKey = 'ii' | 'iii' | 'iv';
export interface ServerRecord {
  name: string;
  // statuses: what the errors were (status or error code → count), when there were any.
  saturation: {rowsPerSecond: number; cpuMsPerRow: number; errors: number; statuses?: Record<string, number>};
  loads: {
    fraction: number;
    rowsPerSecond: number;
    p50: number;
    p99: number;
    errors: number;
    statuses?: Record<string, number>;
  }[];
}

/** Requests of `count` agents each, over four agent types. */
const planOf =
  (count: number) =>
  (seq: number): RequestPlan => {
    const agents: RequestPlan['agents'] = {};
    for (let i = 0; i < count; i++) {
      const vector = Array.from({length: d}, (_, j) => (((seq * 31 + i * 7 + j) % 97) - 48) / 50);
      agents[`agent-${i}`] = {vector, model: 'policy-mlp', agent_type: `critic-${(seq + i) % 4}`};
    }
    return {agents};
  };

async function ceiling(modelPath: string, seconds: number): Promise<RealModelRecord['ceiling']> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1, interOpNumThreads: 1});
  const out: RealModelRecord['ceiling'] = [];
  for (const batch of [1, 16, 64, 128, 256]) {
    const data = new Float32Array(batch * d).map((_, i) => ((i % 97) - 48) / 50);
    const feeds = {x: new ort.Tensor('float32', data, [batch, d])};
    for (let i = 0; i < 5; i++) await session.run(feeds);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let runs = 0;
    while (performance.now() - t0 < seconds * 1000) {
      await session.run(feeds);
      runs++;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    out.push({
      batch,
      rowsPerSecond: (runs * batch * 1000) / ms,
      batchMs: ms / runs,
      cpuMsPerRow: (cpu.user + cpu.system) / 1000 / (runs * batch),
    });
  }
  await session.release();
  return out;
}

async function startServer(
  key: ServerKey,
  modelPath: string,
  dir: string,
): Promise<{children: ChildProcess[]; url: string}> {
  const port = await freePort();
  let entry = 'src/main.ts';
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ACTOR_POOL_SIZE: '1',
    MAX_PENDING_TOTAL: '1000000',
    MAX_PENDING_PER_MAILBOX: '1000000',
  };
  const model = {backend: {kind: 'onnx', path: modelPath}, max_batch_size: 128};
  if (key === 'ii') {
    entry = 'bench/baselines/koa-onnx.ts';
    env.MODEL_PATH = modelPath;
  } else {
    const registry = path.join(dir, `models-${key}.json`);
    const entryOf =
      key === 'iii' ? {...model, max_wait_ms: 20, max_concurrent_batches: 0} : {...model, latency_slo_ms: sloMs};
    await writeFile(registry, JSON.stringify({models: {'policy-mlp': entryOf}}));
    env.MODELS_FILE = registry;
  }
  const nodeArgs = entry === 'src/main.ts' ? ['--max-semi-space-size=16', '--max-old-space-size=2047'] : [];
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: root,
    env: {...process.env, ...env},
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}${key === 'ii' ? '/healthz' : '/readyz'}`, {child});
  return {children: [child], url};
}

const names: Record<ServerKey, string> = {
  ii: '(ii) Koa + zod + one session.run per request, inline',
  iii: '(iii) agent-batcher, fixed 20 ms window',
  iv: `(iv) agent-batcher as shipped (work-conserving, latency_slo_ms ${sloMs})`,
};
const keys = ['ii', 'iii', 'iv'] as const;
type Started = Record<ServerKey, {children: ChildProcess[]; url: string}>;
const median = <T>(xs: T[], by: (x: T) => number): T =>
  [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)];

/**
 * Saturation and the loads, with requests of `agents` agents, for each server, in rounds (server
 * after server, the median round kept). The open loop's request rate is the load's rows/s over
 * `agents`: the same rows/s whatever the payload.
 */
async function measure(
  started: Started,
  agents: number,
  {rounds, seconds, best}: {rounds: number; seconds: number; best: {rowsPerSecond: number}},
): Promise<Record<ServerKey, ServerRecord>> {
  const plan = planOf(agents);
  const out = {} as Record<ServerKey, ServerRecord>;
  const saturation = {ii: [], iii: [], iv: []} as Record<ServerKey, ServerRecord['saturation'][]>;
  const atLoads = {} as Record<ServerKey, ServerRecord['loads'][number][][]>;
  for (const key of keys) atLoads[key] = loads.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const key of keys) {
      const {children, url} = started[key];
      const cpu0 = await cpuSeconds(children);
      const sat = await runLoad({
        url,
        clients: 128,
        durationMs: seconds * 1000,
        plan,
        progress: false,
        label: `${key} saturation, ${agents} a request`,
      });
      const cpu = (await cpuSeconds(children)) - cpu0;
      saturation[key].push({
        rowsPerSecond: (sat.agents * 1000) / sat.durationMs,
        cpuMsPerRow: (cpu * 1000) / Math.max(1, sat.agents),
        errors: sat.errors,
        ...(sat.errors > 0 ? {statuses: sat.statuses} : {}),
      });
    }
    for (const [i, fraction] of loads.entries()) {
      for (const key of keys) {
        const rate = (fraction * best.rowsPerSecond) / agents;
        const r = await runLoad({
          url: started[key].url,
          clients: 4000,
          rate,
          durationMs: seconds * 1000,
          plan,
          progress: false,
          label: `${key} at ${fraction * 100}%, ${agents} a request`,
        });
        atLoads[key][i].push({
          fraction,
          rowsPerSecond: (r.agents * 1000) / r.durationMs,
          p50: quantile(r.latencies, 0.5),
          p99: quantile(r.latencies, 0.99),
          errors: r.errors,
          ...(r.errors > 0 ? {statuses: r.statuses} : {}),
        });
      }
    }
  }
  for (const key of keys) {
    const sat = median(saturation[key], (x) => x.rowsPerSecond);
    const at = atLoads[key].map((xs) => median(xs, (x) => x.p99));
    out[key] = {name: names[key], saturation: sat, loads: at};
    console.log(
      `real-model ${names[key]}, ${agents} a request: ${Math.round(sat.rowsPerSecond)} rows/s at saturation; ${at.map((l) => `${l.fraction * 100}%: p50 ${l.p50.toFixed(1)} ms p99 ${l.p99.toFixed(1)} ms, ${l.errors} errors${l.statuses ? ` ${JSON.stringify(l.statuses)}` : ''}`).join('; ')}`,
    );
  }
  return out;
}

export async function runRealModel(options: {quick: boolean; outDir: URL}): Promise<RealModelRecord> {
  const dir = fileURLToPath(new URL('real-model/', options.outDir));
  const modelPath = path.join(dir, 'policy-mlp.onnx');
  writeMlp(modelPath, mlp(sizes));
  const seconds = options.quick ? 3 : 8;
  const loadAtStart = os.loadavg()[0];
  const table = await ceiling(modelPath, options.quick ? 1 : 2);
  const best = table.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
  console.log(
    `real-model (i) ceiling: ${Math.round(best.rowsPerSecond)} rows/s at batch ${best.batch} (${best.batchMs.toFixed(2)} ms a batch)`,
  );
  let servers = {} as RealModelRecord['servers'];
  let single = {} as RealModelRecord['servers'];
  // All three servers stay up (an idle one costs nothing) and every measurement runs in rounds,
  // server after server, the median round kept: a shared machine's load drifts over minutes, and
  // measuring one server after the other would charge the drift to whichever came last.
  const started = {} as Started;
  try {
    for (const key of keys) started[key] = await startServer(key, modelPath, dir);
    const warm = {clients: 128, durationMs: 2000, plan: planOf(agentsPerRequest), progress: false};
    for (const key of keys) await runLoad({url: started[key].url, ...warm});
    const rounds = options.quick ? 1 : 3;
    servers = await measure(started, agentsPerRequest, {rounds, seconds, best});
    single = await measure(started, oneAgent, {rounds, seconds, best});
  } finally {
    await stop(keys.flatMap((key) => started[key]?.children ?? []));
  }
  return {
    date: new Date().toISOString(),
    machine: `${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? '?'}, node ${process.version}`,
    model: `MLP ${sizes.join(' → ')}, ReLU, float32 (scripts/make-model.ts, seed 20)`,
    ceiling: table,
    best,
    servers,
    oneAgent: single,
    rounds: options.quick ? 1 : 3,
    loadAverage: [loadAtStart, os.loadavg()[0]],
  };
}
