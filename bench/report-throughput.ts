// The throughput sections of RESULTS.md: the headline ratios against the baselines, each offered
// load, the targets, CPU per request at a fixed rate, the batch window, and before/after.

import {n, ratio} from './figures.ts';
import type {Figures} from './figures.ts';
import {maxBatchSize, maxWaitMs, warmupMs} from './scenarios.ts';
import {servers} from './server-specs.ts';
import type {ServerId} from './server-specs.ts';
import {headline} from './report-input.ts';
import type {Report} from './report-input.ts';

/** Each service's best row against each baseline's best row of a scenario: req/s, CPU/req, p99. */
export function ratios(r: Report, scenario: string): string {
  const best = headline(r, scenario);
  const baselines = (['a', 'b', 'c'] as ServerId[]).filter((b) => best.has(b));
  const services = (['d1', 'd2'] as ServerId[]).filter((d) => best.has(d));
  const lines = [
    `| service | ${baselines.map((b) => `req/s vs ${b}`).join(' | ')} | ${baselines.map((b) => `CPU/req vs ${b}`).join(' | ')} | ${baselines.map((b) => `p99 vs ${b}`).join(' | ')} |`,
    `|${' --- |'.repeat(1 + baselines.length * 3)}`,
  ];
  for (const d of services) {
    const f = best.get(d)!;
    lines.push(
      `| ${f.name} | ${baselines.map((b) => ratio(f.rps, best.get(b)!.rps)).join(' | ')} | ${baselines.map((b) => ratio(f.cpuUs, best.get(b)!.cpuUs)).join(' | ')} | ${baselines.map((b) => ratio(f.p99, best.get(b)!.p99)).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** Service against the baselines at each offered load of a scenario (same clients, same run). */
export function perLoad(r: Report, scenario: string): string {
  const {results} = r;
  const rows = results[scenario] ?? [];
  const loads = [...new Set(rows.map((f) => f.clients))].sort((a, b) => a - b);
  const at = (id: ServerId, clients: number) => rows.find((f) => f.server === id && f.clients === clients);
  const lines = [
    '| clients | pool=1 req/s vs b | pool=1 req/s vs c | pool=2 req/s vs c | pool=1 p50 ms (c) | pool=1 CPU/req vs c |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const clients of loads) {
    const d1 = at('d1', clients);
    const c = at('c', clients);
    lines.push(
      `| ${clients} | ${ratio(d1?.rps, at('b', clients)?.rps)} | ${ratio(d1?.rps, c?.rps)} | ${ratio(at('d2', clients)?.rps, c?.rps)} | ${n(d1?.p50, 1)} (${n(c?.p50, 1)}) | ${ratio(d1?.cpuUs, c?.cpuUs)} |`,
    );
  }
  return lines.join('\n');
}

/** The ratios of the run before the speed-up beside this run's, each measured within its own run. */
export function beforeAfter(r: Report): string {
  const {before, results} = r;
  if (!before?.results?.['gateway-bound']) return '_No earlier run recorded (bench/results-before.json)._';
  const rowsOf = (r: Record<string, Figures[]>, scenario: string) => {
    const best = new Map<ServerId, Figures>();
    for (const f of r[scenario] ?? [])
      if (!best.has(f.server) || f.rps > best.get(f.server)!.rps) best.set(f.server, f);
    return best;
  };
  const lines = ['| scenario | figure | before | after |', '| --- | --- | --- | --- |'];
  for (const scenario of ['gateway-bound', 'large-vectors']) {
    const b = rowsOf(before.results, scenario);
    const a = rowsOf(results, scenario);
    for (const d of ['d1', 'd2'] as ServerId[]) {
      if (!a.has(d) || !b.has(d)) continue;
      for (const base of ['b', 'c'] as ServerId[]) {
        lines.push(
          `| ${scenario} | ${servers[d].name} req/s vs ${base} | ${ratio(b.get(d)!.rps, b.get(base)?.rps)} | ${ratio(a.get(d)!.rps, a.get(base)?.rps)} |`,
        );
        if (b.get(d)!.cpuUs !== undefined) {
          lines.push(
            `| ${scenario} | ${servers[d].name} CPU/req vs ${base} | ${ratio(b.get(d)!.cpuUs, b.get(base)?.cpuUs)} | ${ratio(a.get(d)!.cpuUs, a.get(base)?.cpuUs)} |`,
          );
        }
      }
    }
  }
  return `Earlier run: ${before.date} (node ${before.node}). Ratios, each measured within its own run:\n\n${lines.join('\n')}`;
}

/** The issue targets, each with this run's figure and whether it is met. */
export function targets(r: Report): string {
  const {results} = r;
  const g = headline(r, 'gateway-bound');
  const seed = headline(r, 'seed');
  const lines: string[] = [];
  for (const d of ['d1', 'd2'] as ServerId[]) {
    const f = g.get(d);
    if (!f) continue;
    const vb = g.get('b') ? f.rps / g.get('b')!.rps : NaN;
    const vc = g.get('c') ? f.rps / g.get('c')!.rps : NaN;
    lines.push(
      `- gateway-bound, ${f.name}: ${vb.toFixed(2)}× baseline (b) (target ≥ 0.9: ${vb >= 0.9 ? 'met' : 'not met'}), ${vc.toFixed(2)}× baseline (c) (target ≥ 1.0: ${vc >= 1 ? 'met' : 'not met'})`,
    );
  }
  for (const f of (results['gateway-bound'] ?? []).filter((r) => r.server.startsWith('d') && r.fill !== undefined)) {
    const rowsPerWindow = f.aps / 6 / (1000 / maxWaitMs);
    if (rowsPerWindow <= maxBatchSize) continue;
    lines.push(
      `- gateway-bound, ${f.name}, ${f.clients} clients: ${n(rowsPerWindow)} rows per key per ${maxWaitMs} ms, batch fill ${n(f.fill, 2)} (target ≥ 0.95: ${f.fill! >= 0.95 ? 'met' : 'not met'})`,
    );
  }
  for (const d of ['d1', 'd2'] as ServerId[]) {
    const f = seed.get(d);
    if (!f) continue;
    lines.push(
      `- seed load, ${f.name}: ${f.errors + f.wrong} errors (target 0: ${f.errors + f.wrong === 0 ? 'met' : 'not met'}); p99 added latency ${n(f.addedP99, 1)} ms over the whole run, ${n(f.steadyAddedP99, 1)} ms after the first ${warmupMs / 1000} s (target ≤ ${maxWaitMs + 10}: ${(f.steadyAddedP99 ?? Infinity) <= maxWaitMs + 10 ? 'met' : 'not met'} in steady state, ${(f.addedP99 ?? Infinity) <= maxWaitMs + 10 ? 'met' : 'not met'} overall); peak RSS ${n(f.rssMb)} MB (target ≤ 512: ${f.rssMb <= 512 ? 'met' : 'not met'}); mean batch ${n(f.meanBatch, 1)} of ${maxBatchSize}, ${n(f.aps / 6 / (1000 / maxWaitMs), 1)} rows per key per ${maxWaitMs} ms`,
    );
  }
  return lines.join('\n');
}

/** CPU per request of each server at the same open-loop rate, against (b): the issue's CPU target. */
export function cpuSection(r: Report): string {
  const {json, results, scenarios} = r;
  const rows = results['gateway-cpu'] ?? [];
  const b = rows.find((f) => f.server === 'b');
  if (!b) return '_Not run._';
  const lines = [
    '| server | req/s | p50 / p99 ms | server CPU µs/req (median) | each round | vs (b) | GC total ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of rows) {
    lines.push(
      `| ${f.name} | ${n(f.rps)} | ${n(f.p50, 1)} / ${n(f.p99, 1)} | ${n(f.cpuUs)} | ${f.cpuUsRounds?.map((c) => n(c)).join(', ') ?? '–'} | ${ratio(f.cpuUs, b.cpuUs)} | ${n(f.gcTotalMs)} | ${f.errors + f.wrong} |`,
    );
  }
  const d1 = rows.find((f) => f.server === 'd1');
  if (d1) {
    const r = d1.cpuUs / b.cpuUs;
    const perRound =
      d1.cpuUsRounds && b.cpuUsRounds?.length === d1.cpuUsRounds.length
        ? d1.cpuUsRounds.map((c, i) => c / b.cpuUsRounds![i])
        : undefined;
    lines.push(
      '',
      `- ${d1.name}: **${r.toFixed(2)}×** the CPU per request of (b) at the same offered load, median against median${perRound ? ` (round by round ${perRound.map((x) => `${x.toFixed(2)}×`).join(', ')})` : ''} (target ≤ 1.4: ${r <= 1.4 ? 'met' : `not met, by ${n((r - 1.4) * 100)} points`}); ${n(d1.cpuUs - b.cpuUs)} µs more per request, for the coordinator, the hop to the actor thread and back, the batch policy and the metrics.`,
      `- Each server runs ${d1.cpuUsRounds?.length ?? 1} time(s), the servers interleaved, each time after ${scenarios.find((x) => x.id === 'gateway-cpu')?.warmupSeconds ?? 0} s of the same load that is not measured; on ${json.cores} shared cores one round's CPU per request moves by tens of percent.`,
    );
  }
  return lines.join('\n');
}

/** The adaptive window against the fixed one at the seed's moderate load (issue targets). */
export function windowSection(r: Report): string {
  const {results} = r;
  const rows = results.window ?? [];
  const fixed = rows.find((f) => f.server === 'd1');
  const auto = rows.find((f) => f.server === 'd1a');
  if (!fixed || !auto) return '_Not run (`npm run bench -- --only window`)._';
  const backendMs = 5000;
  const callsRatio = (auto.callsPerAgent ?? NaN) / (fixed.callsPerAgent ?? NaN);
  const addedShare = (auto.steadyAddedP50 ?? NaN) / backendMs;
  return [
    '| window | backend calls per agent | mean batch | added p50 ms (steady) | added p99 ms (steady) | errors |',
    '| --- | --- | --- | --- | --- | --- |',
    ...[fixed, auto].map(
      (f) =>
        `| ${f.name} | ${n(f.callsPerAgent, 3)} | ${n(f.meanBatch, 1)} | ${n(f.steadyAddedP50, 1)} | ${n(f.steadyAddedP99, 1)} | ${f.errors + f.wrong} |`,
    ),
    '',
    `- Backend calls per agent, auto against fixed 20 ms: **${callsRatio.toFixed(2)}×** (target ≤ 0.5: ${callsRatio <= 0.5 ? 'met' : 'not met'}).`,
    `- Added latency p50 with auto, steady state: **${n(auto.steadyAddedP50, 1)} ms = ${(addedShare * 100).toFixed(1)}%** of the mean backend latency of ${backendMs} ms (target ≤ 3%: ${addedShare <= 0.03 ? 'met' : 'not met'}).`,
  ].join('\n');
}
