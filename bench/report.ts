// RESULTS.md and the charts, from the figures of a run (and of earlier ones, for before/after):
// one function per section (report-throughput.ts, report-memory.ts, report-limits.ts), each taking
// the run as a Report (report-input.ts). Pure: it computes text; bench/run.ts writes the files.

import os from 'node:os';
import type {Figures} from './figures.ts';
import {maxBatchSize, maxWaitMs, warmupMs} from './scenarios.ts';
import {servers} from './server-specs.ts';
import type {Scenario} from './scenarios.ts';
import type {ServerId} from './server-specs.ts';
import {barChart, lineChart} from './svg.ts';
import {limits, scaleOutSection} from './report-limits.ts';
import {openRequestsSection, seedMemorySection} from './report-memory.ts';
import {beforeAfter, cpuSection, perLoad, ratios, targets, windowSection} from './report-throughput.ts';
import {table} from './report-input.ts';
import type {HeapRecord, Report, RunRecord} from './report-input.ts';

export function charts(results: Record<string, Figures[]>): Record<string, string> {
  /** One series per server of the gateway-bound scenario: `figure` against the offered load. */
  const gatewaySeries = (figure: (f: Figures) => number) =>
    (Object.keys(servers) as ServerId[])
      .filter((id) => (results['gateway-bound'] ?? []).some((f) => f.server === id))
      .map((id) => ({
        name: servers[id].name,
        points: results['gateway-bound']
          .filter((f) => f.server === id)
          .map((f) => [f.clients, figure(f)] as [number, number]),
      }));
  const latencyChart = lineChart(
    'Gateway-bound: p99 latency against offered load',
    'closed-loop clients (log)',
    'p99 latency, ms (log)',
    gatewaySeries((f) => f.p99),
    true,
    true,
  );
  const throughputChart = lineChart(
    'Gateway-bound: throughput against offered load',
    'closed-loop clients (log)',
    'requests/s',
    gatewaySeries((f) => f.rps),
    false,
    true,
  );
  const seedRows = results.seed ?? [];
  const sizesChart = barChart(
    'Seed load: batch-size distribution (share of batches)',
    'rows per backend call',
    'share of batches',
    seedRows
      .filter((f) => f.batchSizes)
      .map((f) => {
        const total = Object.values(f.batchSizes!).reduce((a, b) => a + b, 0);
        return {
          name: f.name,
          bars: Object.entries(f.batchSizes!).map(
            ([size, count]) => [Number(size), Number((count / total).toFixed(4))] as [number, number],
          ),
        };
      }),
  );
  return {
    'latency-vs-load.svg': latencyChart,
    'throughput-vs-load.svg': throughputChart,
    'batch-sizes.svg': sizesChart,
  };
}

export function report(
  json: RunRecord,
  scenarios: readonly Scenario[],
  before: RunRecord | undefined,
  openBefore?: RunRecord & {commit?: string},
  heap?: HeapRecord,
): string {
  const {results, quick} = json;
  const r: Report = {json, results, quick, scenarios, before, openBefore, heap};
  const minutes = json.minutes.toFixed(1);
  return `# Benchmark results

- Date: ${json.date} (each scenario below says when it ran: \`--only\` re-runs some and keeps the others)
- Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${minutes} min)
- Machine: ${json.cores} cores (${json.cpu}), ${json.memGb.toFixed(0)} GiB, ${os.platform()} ${os.release()}; shared and noisy, so read the ratios, which were measured side by side in this one run
- Node ${process.version}; every server in its own process; the load generator (undici, closed or open loop, one connection per request in flight) runs in the bench process on the same ${json.cores} cores
- Service settings: MAX_BATCH_SIZE=${maxBatchSize}, MAX_WAIT_MS=${maxWaitMs}, MAX_CONCURRENT_BATCHES=0; \`errors\` counts non-200 answers, agent errors and wrong predictions (every 25th answer is checked against the formula)

## Headline ratios (best throughput of each server)

req/s above 1× is better; CPU/req (server CPU, all threads, per request) and p99 below 1× are better.
On this machine the load generator needs about one of the cores, so req/s of the lighter servers is
partly capped by the client; CPU per request is the steadier figure.

### gateway-bound
${ratios(r, 'gateway-bound')}

### large vectors
${ratios(r, 'large-vectors')}

### gateway-bound, at each offered load
${perLoad(r, 'gateway-bound')}

## Targets
${targets(r)}

## CPU per request at a fixed offered load
${cpuSection(r)}

## Batch window: fixed 20 ms against auto
${windowSection(r)}

## Open requests: memory and GC per request held
${openRequestsSection(r)}

## Seed load: memory, GC and added latency against (a)
${seedMemorySection(r)}

## Scale-out over NATS
${scaleOutSection(r)}

## What limits it
${limits(r)}

## Scenarios
${scenarios
  .map(
    (s) =>
      `### ${s.title}\n\n${json.scenarioDates?.[s.id] ? `_Run ${json.scenarioDates[s.id]}._\n\n` : ''}${table(results[s.id] ?? [], s.viaHttpBackend)}${s.viaHttpBackend ? `\n\nThe backend here is an HTTP server in its own process (3–7 s per call) that records the latency it applied to every row; *added* = client latency − the backend latency of the call that carried the request's slowest agent (for the baselines that hold each request themselves, the delay they drew: see "Seed load: memory, GC and added latency"). *Steady* counts only requests started after the first ${warmupMs / 1000} s: at the start every client sends at once, a burst no server here can take in ${maxWaitMs + 10} ms.` : ''}`,
  )
  .join('\n\n')}

## Charts

![p99 latency against offered load](latency-vs-load.svg)

![throughput against offered load](throughput-vs-load.svg)

![batch-size distribution under the seed load](batch-sizes.svg)

## Before and after the speed-up
${beforeAfter(r)}
`;
}
