// The figures of one (scenario, server, load) run, computed from the load generator's and the
// recording backend's raw data.

import {quantile} from '../scripts/load-generator.ts';
import type {LoadResult} from '../scripts/load-generator.ts';
import type {Records} from './recorder.ts';
import {maxBatchSize, warmupMs} from './scenarios.ts';
import {servers} from './server-specs.ts';
import type {ServerId} from './server-specs.ts';

export interface Figures {
  server: ServerId;
  name: string;
  clients: number;
  rps: number;
  aps: number;
  p50: number;
  p99: number;
  max: number;
  addedP50?: number;
  addedP99?: number;
  /** The same, for requests started after the warm-up (the first wave of a closed loop). */
  steadyAddedP50?: number;
  steadyAddedP99?: number;
  steadyAddedMax?: number;
  meanBatch?: number;
  fill?: number;
  callsPerAgent?: number;
  rssMb: number;
  /** Server CPU (all threads) per request, µs. */
  cpuUs: number;
  /** CPU per request of every round, when the scenario ran several (this figure is their median). */
  cpuUsRounds?: number[];
  /** The first front end's main thread alone (its event loop), per request. */
  mainCpuUs?: number;
  errors: number;
  wrong: number;
  requests: number;
  batchSizes?: Record<number, number>;
  /** With two front ends: batches that carried rows sent to both. */
  sharedAcrossFronts?: number;
  /** From the main thread's probe (bench/probe.ts). */
  gcMaxMs?: number;
  gcTotalMs?: number;
  /** Longest pause and total per kind of collection (scavenge, mark-compact, …). */
  gcByKind?: Record<string, {maxMs: number; totalMs: number; count: number}>;
  /** Pauses longer than 20 ms. */
  gcOver20Ms?: number;
  eventLoopP99Ms?: number;
  /** (peak heap − heap at start) / clients: what one open request keeps alive, KB. */
  heapPerOpenKb?: number;
}

/** "scavenge max 12.0 ms × 40, mark-compact max 30.1 ms × 3": which kind of collection paused longest. */
export function gcKinds(f: Figures): string {
  return Object.entries(f.gcByKind ?? {})
    .sort((a, b) => b[1].maxMs - a[1].maxMs)
    .map(([kind, k]) => `${kind} max ${n(k.maxMs, 1)} ms × ${k.count}`)
    .join(', ');
}

export function figures(
  id: ServerId,
  clients: number,
  load: LoadResult,
  rssMb: number,
  cpu: number,
  recorder?: Records,
): Figures {
  const seconds = load.durationMs / 1000;
  const f: Figures = {
    server: id,
    name: servers[id].name,
    clients,
    rps: load.requests / seconds,
    aps: load.agents / seconds,
    p50: quantile(load.latencies, 0.5),
    p99: quantile(load.latencies, 0.99),
    max: load.latencies[load.latencies.length - 1] ?? NaN,
    rssMb,
    cpuUs: (cpu / Math.max(1, load.requests)) * 1e6,
    errors: load.errors,
    wrong: load.wrongPredictions,
    requests: load.requests,
  };
  if (load.batches.size > 0) {
    let rows = 0;
    const sizes: Record<number, number> = {};
    for (const size of load.batches.values()) {
      rows += size;
      sizes[size] = (sizes[size] ?? 0) + 1;
    }
    f.meanBatch = rows / load.batches.size;
    f.fill = f.meanBatch / maxBatchSize;
    f.callsPerAgent = (recorder ? recorder.calls : load.batches.size) / load.agents;
    f.batchSizes = sizes;
  }
  if (recorder && load.kept.length > 0) {
    // The backend's latency: of the call that carried the request's slowest agent, or the delay a
    // holding baseline drew itself.
    const addedOf = (r: LoadResult['kept'][number]) =>
      r.latencyMs - (r.heldMs ?? Math.max(...r.markers.map((m) => recorder.rowMs.get(m) ?? 0)));
    const added = Float64Array.from(load.kept.map(addedOf)).sort();
    f.addedP50 = quantile(added, 0.5);
    f.addedP99 = quantile(added, 0.99);
    const steady = Float64Array.from(load.kept.filter((r) => r.startMs >= warmupMs).map(addedOf)).sort();
    f.steadyAddedP50 = quantile(steady, 0.5);
    f.steadyAddedP99 = quantile(steady, 0.99);
    f.steadyAddedMax = steady[steady.length - 1];
  }
  return f;
}

/** A number for a table cell (– when absent). */
export const n = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
export const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '–');

/** One console line per run, naming scenario · server · load. */
export function summaryLine(scenario: string, f: Figures): string {
  return (
    `${scenario} · ${f.name} · ${f.clients} clients: ${f.rps.toFixed(0)} req/s, ${f.aps.toFixed(0)} agents/s, p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms` +
    (f.meanBatch ? `, mean batch ${f.meanBatch.toFixed(1)}` : '') +
    (f.addedP99 !== undefined
      ? `, added p50/p99 ${n(f.addedP50, 1)}/${f.addedP99.toFixed(1)} ms (steady ${n(f.steadyAddedP50, 1)}/${n(f.steadyAddedP99, 1)})`
      : '') +
    `, server CPU ${f.cpuUs.toFixed(0)} µs/req, RSS ${f.rssMb.toFixed(0)} MB` +
    (f.gcMaxMs !== undefined
      ? `, GC max ${n(f.gcMaxMs, 1)} ms (total ${n(f.gcTotalMs)} ms, ${n(f.gcOver20Ms)} over 20 ms; ${gcKinds(f)}), loop p99 ${n(f.eventLoopP99Ms, 1)} ms, heap/open ${n(f.heapPerOpenKb, 1)} KB`
      : '') +
    `, errors ${f.errors}, wrong ${f.wrong}`
  );
}
