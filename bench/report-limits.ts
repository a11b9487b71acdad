// "What limits it" in RESULTS.md, why each target not met is not, with this run's numbers; and
// the scale-out section (one process, two alone, two gateways sharing one actor host over NATS).

import {n, ratio} from './figures.ts';
import {maxBatchSize, maxWaitMs} from './scenarios.ts';
import {shippedNodeArgs} from './server-specs.ts';
import type {ServerId} from './server-specs.ts';
import {headline} from './report-input.ts';
import type {Report} from './report-input.ts';
import {koaMiss} from './report-memory.ts';

/** Why the targets that are not met are not, with this run's numbers. */
export function limits(r: Report): string {
  const {json, results} = r;
  const g = headline(r, 'gateway-bound');
  const seed = headline(r, 'seed');
  const [b, c, d1] = [g.get('b'), g.get('c'), g.get('d1')];
  const [sc, sd1] = [seed.get('c'), seed.get('d1')];
  const out: string[] = [];
  if (b && d1) {
    out.push(
      `- **Gateway-bound against (b).** The service does all that (b) does (Koa, body parsing, the same zod validation) and then hands every agent to an actor thread and back: admission, placement and bookkeeping in the coordinator, one coalesced message per thread per turn each way, the batch policy, reassembly, metrics. Here that is ${n(d1.cpuUs - b.cpuUs)} µs more server CPU per request (${ratio(d1.cpuUs, b.cpuUs)} of (b)'s ${n(b.cpuUs)} µs), and on ${json.cores} cores shared with the load generator the extra CPU is lost throughput: ${ratio(d1.rps, b.rps)} of (b), short of 0.9× by ${n((0.9 - d1.rps / b.rps) * 100)} points. (b) has no batching and no backend at all; it bounds what a Koa front end can do, not what a batching gateway can.${cpuAtRate(r)}`,
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

/** The fixed-rate CPU comparison, as a sentence for "What limits it". */
function cpuAtRate(r: Report): string {
  const {results} = r;
  const rows = results['gateway-cpu'] ?? [];
  const [b, d1] = [rows.find((f) => f.server === 'b'), rows.find((f) => f.server === 'd1')];
  if (!b || !d1) return '';
  return ` At best throughput a closed loop settles, from run to run, into batches cut by size or by the window, which moves CPU per request by tens of percent; at the same open-loop rate, where neither saturates, it is ${ratio(d1.cpuUs, b.cpuUs)} (${n(d1.cpuUs)} against ${n(b.cpuUs)} µs; "CPU per request at a fixed offered load"). Where the extra goes there, from \`node bench/profile.ts --rate 3000\`: the hop to the actor thread is one postMessage per thread per event-loop turn each way, a few requests per message at this rate, and each wakes the other thread; the coordinator's bookkeeping and the batch policy are the rest.`;
}

/** One service, two batching alone, and two gateways sharing one actor host over NATS. */
export function scaleOutSection(r: Report): string {
  const {json, results} = r;
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
