// RESULTS.md and the charts, from the figures of a run (and of an earlier one, for before/after).
// Pure: it computes text; bench/run.ts writes the files.

import os from 'node:os';
import {gcKinds, n, ratio} from './figures.ts';
import type {Figures} from './figures.ts';
import {isShipped, maxBatchSize, maxWaitMs, servers, shippedNodeArgs, warmupMs} from './scenarios.ts';
import type {Scenario, ServerId} from './scenarios.ts';
import {barChart, lineChart} from './svg.ts';

export interface RunRecord {
  date: string;
  quick: boolean;
  node: string;
  cores: number;
  cpu: string | undefined;
  memGb: number;
  minutes: number;
  results: Record<string, Figures[]>;
  /** When each scenario last ran (a run with --only keeps the others'). */
  scenarioDates?: Record<string, string>;
}

/** What bench/heap.ts measured, by label ('a', 'd', 'd-before'). */
export interface HeapRecord {
  runs: Record<string, {date: string; commit: string; open: number; kbPerOpen: number; extra?: string}>;
}

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
  /** The best throughput row of each server in a scenario (its saturation point). */
  function headline(scenario: string): Map<ServerId, Figures> {
    const best = new Map<ServerId, Figures>();
    for (const f of results[scenario] ?? [])
      if (!best.has(f.server) || f.rps > best.get(f.server)!.rps) best.set(f.server, f);
    return best;
  }

  function table(rows: Figures[], withAdded: boolean): string {
    const head = [
      'server',
      'clients',
      'req/s',
      'agents/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      ...(withAdded ? ['added p50 ms', 'added p99 ms', 'steady added p50 / p99 / max ms'] : []),
      'mean batch',
      'fill',
      'backend calls/agent',
      'server CPU µs/req',
      'peak RSS MB',
      'errors',
    ];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
    for (const f of rows) {
      lines.push(
        `| ${[f.name, f.clients, n(f.rps), n(f.aps), n(f.p50, 1), n(f.p99, 1), n(f.max, 0), ...(withAdded ? [n(f.addedP50, 1), n(f.addedP99, 1), `${n(f.steadyAddedP50, 1)} / ${n(f.steadyAddedP99, 1)} / ${n(f.steadyAddedMax, 0)}`] : []), n(f.meanBatch, 1), n(f.fill, 2), n(f.callsPerAgent, 3), n(f.cpuUs), n(f.rssMb), f.errors + f.wrong].join(' | ')} |`,
      );
    }
    return lines.join('\n');
  }

  function ratios(scenario: string): string {
    const best = headline(scenario);
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

  function beforeAfter(): string {
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

  /** Service against the baselines at each offered load of a scenario (same clients, same run). */
  function perLoad(scenario: string): string {
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

  /** The fixed-rate CPU comparison, as a sentence for "What limits it". */
  function cpuAtRate(): string {
    const rows = results['gateway-cpu'] ?? [];
    const [b, d1] = [rows.find((f) => f.server === 'b'), rows.find((f) => f.server === 'd1')];
    if (!b || !d1) return '';
    return ` At best throughput a closed loop settles, from run to run, into batches cut by size or by the window, which moves CPU per request by tens of percent; at the same open-loop rate, where neither saturates, it is ${ratio(d1.cpuUs, b.cpuUs)} (${n(d1.cpuUs)} against ${n(b.cpuUs)} µs; "CPU per request at a fixed offered load"). Where the extra goes there, from \`node bench/profile.ts --rate 3000\`: the hop to the actor thread is one postMessage per thread per event-loop turn each way, a few requests per message at this rate, and each wakes the other thread; the coordinator's bookkeeping and the batch policy are the rest.`;
  }

  /** Why the targets that are not met are not, with this run's numbers. */
  function limits(): string {
    const g = headline('gateway-bound');
    const seed = headline('seed');
    const [b, c, d1] = [g.get('b'), g.get('c'), g.get('d1')];
    const [sc, sd1] = [seed.get('c'), seed.get('d1')];
    const out: string[] = [];
    if (b && d1) {
      out.push(
        `- **Gateway-bound against (b).** The service does all that (b) does (Koa, body parsing, the same zod validation) and then hands every agent to an actor thread and back: admission, placement and bookkeeping in the coordinator, one coalesced message per thread per turn each way, the batch policy, reassembly, metrics. Here that is ${n(d1.cpuUs - b.cpuUs)} µs more server CPU per request (${ratio(d1.cpuUs, b.cpuUs)} of (b)'s ${n(b.cpuUs)} µs), and on ${json.cores} cores shared with the load generator the extra CPU is lost throughput: ${ratio(d1.rps, b.rps)} of (b), short of 0.9× by ${n((0.9 - d1.rps / b.rps) * 100)} points. (b) has no batching and no backend at all; it bounds what a Koa front end can do, not what a batching gateway can.${cpuAtRate()}`,
      );
    }
    if (c && d1) {
      const mid = (results['gateway-bound'] ?? []).filter((f) => f.clients === 128);
      const d128 = mid.find((f) => f.server === 'd1');
      const c128 = mid.find((f) => f.server === 'c');
      out.push(
        `- **Gateway-bound against (c) DataLoader.** Below saturation the service is ahead: it cuts a batch the moment ${maxBatchSize} rows wait, where DataLoader always waits out its window${d128 && c128 ? ` (at 128 clients ${ratio(d128.rps, c128.rps)} the requests/s at p50 ${n(d128.p50, 1)} ms against ${n(c128.p50, 1)} ms)` : ''}. At saturation ${d1.cpuUs > c.cpuUs ? `the thread hop costs ${ratio(d1.cpuUs, c.cpuUs)} the CPU per request` : `it takes ${ratio(d1.cpuUs, c.cpuUs)} of (c)'s CPU per request, the thread hop included`}, and the best throughput ends at ${ratio(d1.rps, c.rps)} of (c).`,
      );
    }
    if (sc && sd1) {
      const [sa, sb, sd2] = [seed.get('ah'), seed.get('bh'), seed.get('d2')];
      out.push(
        `- **Seed load, added latency.** The median added latency (${n(sd1.steadyAddedP50, 1)} ms steady) is the batch window, MAX_WAIT_MS = ${maxWaitMs} ms, as intended. The steady-state p99 (${n(sd1.steadyAddedP99, 1)} ms; pool=2 ${n(sd2?.steadyAddedP99, 1)} ms; DataLoader ${n(sc.steadyAddedP99, 1)} ms; (b) holding, no batching, ${n(sb?.steadyAddedP99, 1)} ms; (a) ${n(sa?.steadyAddedP99, 1)} ms) is set by waves: every client starts at once, so they come back in waves one backend call apart, thousands of requests a second at a wave's crest (answers that leave a batch together bring their clients back together), and a request at the crest waits for those ahead of it on ${json.cores} cores shared with the load generator and the recording backend. What each request costs there: this service's main thread ${n(sd1.mainCpuUs)} µs, within what (b)'s costs (${n(sb?.mainCpuUs)} µs: Koa, koa-bodyparser and zod are nearly all of it) against (a)'s ${n(sa?.mainCpuUs)} µs; then the actor thread and V8's collector threads, ${n(sd1.cpuUs - (sd1.mainCpuUs ?? NaN))} µs more on the same ${json.cores} cores (${n(sd1.cpuUs)} µs in all; (b), with collector threads and no actor thread, ${n((sb?.cpuUs ?? NaN) - (sb?.mainCpuUs ?? NaN))} µs more, ${n(sb?.cpuUs)} in all). ${koaMiss(sa, sb)} Over the whole run, p99 is the first wave, ${n(sd1.clients)} requests sent at once, which one event loop takes seconds to parse and validate.`,
        `- **Seed load, memory.** Peak RSS ${n(sd1.rssMb)} MB (DataLoader ${n(sc.rssMb)} MB${sa ? `, (a) ${n(sa.rssMb)} MB` : ''}) with ${n(sd1.clients)} requests open: the live heap each open request keeps on the main thread (a Koa context and its request and response, Node's socket and parser state, the coordinator's entry), the actor thread's own heap with every vector until its batch is answered, and V8's headroom: a request held seconds is promoted to the old generation and dies there, and V8 lets the old generation grow to a multiple of its live size before it collects (4× by default; at most 2× with an old-space limit under 2 GB; shipped: \`${shippedNodeArgs.join(' ')}\`, see "Open requests").`,
      );
    }
    return out.join('\n');
  }

  /** Memory, GC and latency of each server, against (a) holding the same requests. */
  function memoryTable(rows: readonly Figures[], base: Figures, added: boolean): string[] {
    const head = `| server | peak RSS MB (vs (a)) | peak heap per open request KB | main-thread GC pause max / total ms | event-loop delay p99 ms |${added ? ' steady added p50 / p99 ms |' : ''} p50 / p99 ms | server CPU µs/req (main thread) | errors |`;
    const line = (f: Figures) =>
      `| ${f.name}${isShipped(f.server) ? ' **(as shipped)**' : ''} | ${n(f.rssMb)} (${ratio(f.rssMb, base.rssMb)}) | ${n(f.heapPerOpenKb, 1)} | ${n(f.gcMaxMs, 1)} / ${n(f.gcTotalMs)} | ${n(f.eventLoopP99Ms, 1)} |${added ? ` ${n(f.steadyAddedP50, 1)} / ${n(f.steadyAddedP99, 1)} |` : ''} ${n(f.p50)} / ${n(f.p99)} | ${n(f.cpuUs)} (${n(f.mainCpuUs)}) | ${f.errors + f.wrong} |`;
    return [head, `|---|---|---|---|---|${added ? '---|' : ''}---|---|---|`, ...rows.map(line)];
  }

  /** Live heap per open request from heap snapshots (bench/heap.ts writes bench/heap.json). */
  function liveHeapLines(): string[] {
    if (!heap) return [];
    const at = (label: string) => heap!.runs[label];
    const [a, before, now] = [at('a'), at('d-before'), at('d')];
    if (!a || !now) return [];
    return [
      '',
      `Live heap per open request, from heap snapshots of the main thread with ${n(now.open)} requests open (\`node bench/heap.ts\`, ${now.date.slice(0, 10)}): (a) **${n(a.kbPerOpen, 1)} KB**; this service ${before ? `${n(before.kbPerOpen, 1)} KB before (${before.commit}) and ` : ''}**${n(now.kbPerOpen, 1)} KB** now (${ratio(now.kbPerOpen, a.kbPerOpen)}). What (d) holds per open request beyond (a), largest first: ${now.extra ?? '–'}.`,
    ];
  }

  /** Pauses recorded, all kinds. */
  function gcCount(f: Figures): number | undefined {
    return f.gcByKind ? Object.values(f.gcByKind).reduce((a, k) => a + k.count, 0) : undefined;
  }

  /** 10,000 requests held open for the backend's 3–7 s: this service against raw node:http holding the same. */
  function openRequestsSection(): string {
    const rows = results['open-requests'] ?? [];
    const base = rows.find((f) => f.server === 'ah');
    if (!base || rows.length < 2) return '_Not run (`npm run bench -- --only open-requests`)._';
    const out = memoryTable(rows, base, false);
    const shipped = rows.find((f) => isShipped(f.server));
    const koa = rows.find((f) => f.server === 'bh');
    if (shipped) {
      const rss = shipped.rssMb / base.rssMb;
      out.push(
        '',
        `As shipped (\`${shippedNodeArgs.join(' ')}\`): peak RSS **${rss.toFixed(2)}×** that of (a) (target ≤ 1.3: ${rss <= 1.3 ? 'met' : `not met, by ${n((rss - 1.3) * 100)} points`}); longest main-thread GC pause **${n(shipped.gcMaxMs, 1)} ms** (target ≤ 20: ${(shipped.gcMaxMs ?? Infinity) <= 20 ? 'met' : 'not met'}; ${n(shipped.gcOver20Ms)} of ${n(gcCount(shipped))} pauses over 20 ms; (a) itself paused ${n(base.gcMaxMs, 1)} ms with Node's defaults, ${n(base.gcOver20Ms)} over 20 ms).`,
      );
      const small = rows.find((f) => f.server === 'd1s8o');
      const minor = rows.find((f) => f.server === 'd1ms');
      const single = rows.find((f) => f.server === 'd1st');
      if ((shipped.gcMaxMs ?? 0) > 20) {
        const collector = [
          minor &&
            `mark-sweep for the young generation (\`--minor-ms\`, nothing copied): longest pause ${n(minor.gcMaxMs, 1)} ms, GC total ${n(minor.gcTotalMs)} ms, ${n(minor.rssMb)} MB`,
          single &&
            `no helper threads (\`--single-threaded-gc\`): ${n(single.gcMaxMs, 1)} ms, ${n(single.gcTotalMs)} ms`,
        ].filter(Boolean);
        out.push(
          '',
          `What limits the pause: the longest pauses by kind, as shipped: ${gcKinds(shipped)}; (a): ${gcKinds(base)}. Scavenges of the young generation are nearly all the pauses (${n(shipped.gcByKind?.scavenge?.count)} here, against ${n(shipped.gcByKind?.['mark-compact']?.count)} mark-compacts), each copying what the requests that came in since the last one keep alive. They wait seconds, so nearly all of it survives, copied on ${json.cores} cores shared with the load generator; the first wave of ${n(base.clients)} clients arriving at once is the worst, for (a) as for this service.${small ? ` Halving the semi-space ${(small.gcMaxMs ?? 0) < (shipped.gcMaxMs ?? 0) ? 'shortened the longest pause in this run' : 'did not shorten the longest pause'} (${n(small.gcMaxMs, 1)} ms at 8 MB, ${n(small.gcOver20Ms)} pauses over 20 ms against ${n(shipped.gcOver20Ms)}) and cost more GC time (${n(small.gcTotalMs)} against ${n(shipped.gcTotalMs)} ms); README's V8 settings say how repeated runs of each compared.` : ''}${collector.length > 0 ? ` Other collectors, beside it in this run: ${collector.join('; ')}.` : ''} A single worst pause swings by tens of milliseconds between runs of the same server. What would shorten it: less live state per open request (below), since the copy is proportional to it.`,
        );
      }
      const same = rows.find((f) => f.server === 'd1n');
      if (koa && same) {
        out.push(
          '',
          `What Koa costs: (b), Koa + koa-bodyparser + zod holding the same requests and doing nothing else (Node's default V8 settings), peaks at ${n(koa.rssMb)} MB (${ratio(koa.rssMb, base.rssMb)} of (a)) with ${n(koa.heapPerOpenKb, 1)} KB of peak heap per open request, before any batching; this service with the same defaults peaks at ${n(same.rssMb)} MB. ${koa.rssMb >= same.rssMb ? "The design card's front end alone accounts for all of the gap between (a) and this service" : `The design card's front end alone is ${n(((koa.rssMb - base.rssMb) / (same.rssMb - base.rssMb)) * 100)}% of the gap between (a) and this service`}; the old-space limit is what brings this service below (b).`,
        );
      }
    }
    out.push(...liveHeapLines());
    const beforeRows: Figures[] = openBefore?.results?.['open-requests'] ?? [];
    const was = beforeRows.find((f) => f.server === 'd1');
    const now = rows.find((f) => f.server === 'd1n');
    if (was && now) {
      out.push(
        '',
        `Before (${openBefore?.commit ?? openBefore?.date}, Node's default V8 settings) → after, the same scenario:`,
        '',
        `| figure | before | after, Node's defaults | after, as shipped |`,
        '| --- | --- | --- | --- |',
        `| peak RSS MB | ${n(was.rssMb)} | ${n(now.rssMb)} | ${n(shipped?.rssMb)} |`,
        `| peak heap per open request KB | ${n(was.heapPerOpenKb, 1)} | ${n(now.heapPerOpenKb, 1)} | ${n(shipped?.heapPerOpenKb, 1)} |`,
        `| main-thread GC pause max / total ms | ${n(was.gcMaxMs, 1)} / ${n(was.gcTotalMs)} | ${n(now.gcMaxMs, 1)} / ${n(now.gcTotalMs)} | ${n(shipped?.gcMaxMs, 1)} / ${n(shipped?.gcTotalMs)} |`,
        `| event-loop delay p99 ms | ${n(was.eventLoopP99Ms, 1)} | ${n(now.eventLoopP99Ms, 1)} | ${n(shipped?.eventLoopP99Ms, 1)} |`,
        `| server CPU µs/req | ${n(was.cpuUs)} | ${n(now.cpuUs)} | ${n(shipped?.cpuUs)} |`,
      );
    }
    return out.join('\n');
  }

  /** The seed load over HTTP, with (a) holding each request for its own backend call beside it. */
  function seedMemorySection(): string {
    const rows = results.seed ?? [];
    const base = rows.find((f) => f.server === 'ah');
    if (!base) return '_Not run with (a) (`npm run bench -- --only seed`)._';
    const out = memoryTable(rows, base, true);
    out.push(
      '',
      `(a) does nothing but parse, hold on a timer and answer, so its own added latency (steady p50 / p99 ${n(base.steadyAddedP50, 1)} / ${n(base.steadyAddedP99, 1)} ms) is what the load generator (${n(base.clients)} clients in one process) and the ${json.cores} shared cores add to every server's figure in this run. (a) and (b) hold each request for the slowest of one delay drawn per mailbox key among its agents, as a batching server's request waits for its slowest agent's batch (one draw per request answered their clients 4 times more evenly than any batching server can). The load generator takes a connection per request from a free list: undici's Pool, used before, walks all ${n(base.clients)} connections twice per request, and whenever answers came back in a wave the load generator itself was the bottleneck (with it, in runs up to 2026-12-02, (a)'s steady p99 was 99–387 ms in four runs, this service's pool=1 816–2283 ms in six).`,
      '',
      `The *main thread* figure in parentheses is the front end's event loop alone (its thread in /proc); the rest of a server's CPU is its actor thread and V8's collector threads.`,
    );
    const koa = rows.find((f) => f.server === 'bh');
    if (koa) {
      out.push(
        '',
        `(b), Koa + koa-bodyparser + zod holding the same requests and doing nothing else (no batching, no threads, Node's default V8 settings), has a steady p99 of ${n(koa.steadyAddedP99, 1)} ms at ${n(koa.cpuUs)} µs of CPU per request (${ratio(koa.cpuUs, base.cpuUs)} of (a)): what the design card's front end alone costs under this load's waves of returning clients.`,
      );
    }
    for (const f of rows.filter((r) => r.server === 'd1' || r.server === 'd2')) {
      const over = (f.steadyAddedP99 ?? NaN) - (base.steadyAddedP99 ?? NaN);
      out.push(
        '',
        `- ${f.name}: steady p99 added latency ${n(f.steadyAddedP99, 1)} ms against (a)'s ${n(base.steadyAddedP99, 1)} ms, **${over >= 0 ? '+' : ''}${n(over, 1)} ms** (target ≤ +10: ${over <= 10 ? 'met' : 'not met'}); of it, the batch window is ${maxWaitMs} ms by design (a request waits up to MAX_WAIT_MS for others to share its batch; (a) batches nothing).`,
      );
    }
    return out.join('\n');
  }

  /** One service, two batching alone, and two gateways sharing one actor host over NATS. */
  function scaleOutSection(): string {
    const rows = results['scale-out'] ?? [];
    const at = (id: ServerId) => rows.find((f) => f.server === id);
    const [one, rr, nats] = [at('s1'), at('s2'), at('s3')];
    if (!one || !rr || !nats) return '_Not run (`npm run bench -- --only scale-out`)._';
    const lines = [
      '| deployment | req/s | batch fill | backend calls/agent | added p50 / p99 ms | batches with rows of both front ends | server CPU µs/req (all processes) | peak RSS MB (all processes) | errors |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...[one, rr, nats].map(
        (f) =>
          `| ${f.name} | ${n(f.rps)} | ${n(f.fill, 2)} | ${n(f.callsPerAgent, 3)} | ${n(f.addedP50, 1)} / ${n(f.addedP99, 1)} | ${f.sharedAcrossFronts ?? '–'} | ${n(f.cpuUs)} | ${n(f.rssMb)} | ${f.errors + f.wrong} |`,
      ),
    ];
    const fillVsOne = (nats.fill ?? NaN) / (one.fill ?? NaN);
    const fillVsRr = (nats.fill ?? NaN) / (rr.fill ?? NaN);
    const addedDiff = (nats.addedP50 ?? NaN) - (one.addedP50 ?? NaN);
    return [
      ...lines,
      '',
      `- Batch fill of (iii): **${fillVsOne.toFixed(2)}×** that of (i) (target ≥ 0.95: ${fillVsOne >= 0.95 ? 'met' : 'not met'}) and **${fillVsRr.toFixed(2)}×** that of (ii), whose two services each batch alone.`,
      `- Added p50 of (iii) against (i): **${addedDiff >= 0 ? '+' : ''}${addedDiff.toFixed(1)} ms** (target within 2 ms: ${Math.abs(addedDiff) <= 2 ? 'met' : 'not met'}): the NATS hop's cost.`,
      `- What limits (iii) here: ${json.cores} cores shared by six processes (nats-server, the actor host, two gateways, the recording backend and the load generator). Each row crosses two more event loops and a NATS server each way, and is framed and parsed twice, which costs ${ratio(nats.cpuUs, one.cpuUs)} the CPU per request of (i) (${n(nats.cpuUs)} against ${n(one.cpuUs)} µs, all processes). On a machine this loaded, every extra turn of a busy event loop is milliseconds of queueing; the gateways and the actor host belong on their own cores.`,
    ].join('\n');
  }

  /** The adaptive window against the fixed one at the seed's moderate load (issue targets). */
  function windowSection(): string {
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

  /** CPU per request of each server at the same open-loop rate, against (b): the issue's CPU target. */
  function cpuSection(): string {
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

  function targets(): string {
    const g = headline('gateway-bound');
    const seed = headline('seed');
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
${ratios('gateway-bound')}

### large vectors
${ratios('large-vectors')}

### gateway-bound, at each offered load
${perLoad('gateway-bound')}

## Targets
${targets()}

## CPU per request at a fixed offered load
${cpuSection()}

## Batch window: fixed 20 ms against auto
${windowSection()}

## Open requests: memory and GC per request held
${openRequestsSection()}

## Seed load: memory, GC and added latency against (a)
${seedMemorySection()}

## Scale-out over NATS
${scaleOutSection()}

## What limits it
${limits()}

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
${beforeAfter()}
`;
}

/** How far (b), the design card's front end alone, is from (a)'s steady p99 under the seed load. */
function koaMiss(a: Figures | undefined, b: Figures | undefined): string {
  if (a?.steadyAddedP99 === undefined || b?.steadyAddedP99 === undefined) return '';
  const miss = b.steadyAddedP99 - a.steadyAddedP99;
  return miss > 10
    ? `(b) alone is ${n(miss)} ms over (a)'s p99, past the +10 ms target by itself: on this machine Koa + koa-bodyparser + zod leave no room for batching's own costs.`
    : miss > 0
      ? `(b) alone is within ${n(miss)} ms of (a)'s p99: here the gap is batching's own costs.`
      : `(b) alone is no slower than (a) here (${n(b.steadyAddedP99, 1)} against ${n(a.steadyAddedP99, 1)} ms; the two move by tens of milliseconds from run to run): the gap is batching's own costs.`;
}
