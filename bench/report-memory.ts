// The memory sections of RESULTS.md: requests held open (RSS, GC pauses and live heap per open
// request against raw node:http holding the same) and the seed load's memory and added latency.

import {gcKinds, n, ratio} from './figures.ts';
import type {Figures} from './figures.ts';
import {maxWaitMs} from './scenarios.ts';
import {isShipped, shippedNodeArgs} from './server-specs.ts';
import type {Report} from './report-input.ts';

/** Memory, GC and latency of each server, against (a) holding the same requests. */
function memoryTable(rows: readonly Figures[], base: Figures, added: boolean): string[] {
  const head = `| server | peak RSS MB (vs (a)) | peak heap per open request KB | main-thread GC pause max / total ms | event-loop delay p99 ms |${added ? ' steady added p50 / p99 ms |' : ''} p50 / p99 ms | server CPU µs/req (main thread) | errors |`;
  const line = (f: Figures) =>
    `| ${f.name}${isShipped(f.server) ? ' **(as shipped)**' : ''} | ${n(f.rssMb)} (${ratio(f.rssMb, base.rssMb)}) | ${n(f.heapPerOpenKb, 1)} | ${n(f.gcMaxMs, 1)} / ${n(f.gcTotalMs)} | ${n(f.eventLoopP99Ms, 1)} |${added ? ` ${n(f.steadyAddedP50, 1)} / ${n(f.steadyAddedP99, 1)} |` : ''} ${n(f.p50)} / ${n(f.p99)} | ${n(f.cpuUs)} (${n(f.mainCpuUs)}) | ${f.errors + f.wrong} |`;
  return [head, `|---|---|---|---|---|${added ? '---|' : ''}---|---|---|`, ...rows.map(line)];
}

/** Live heap per open request from heap snapshots (bench/heap.ts writes bench/heap.json). */
function liveHeapLines(r: Report): string[] {
  const {heap} = r;
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
export function openRequestsSection(r: Report): string {
  const {json, openBefore, results} = r;
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
        single && `no helper threads (\`--single-threaded-gc\`): ${n(single.gcMaxMs, 1)} ms, ${n(single.gcTotalMs)} ms`,
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
  out.push(...liveHeapLines(r));
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
export function seedMemorySection(r: Report): string {
  const {json, results} = r;
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

/** How far (b), the design card's front end alone, is from (a)'s steady p99 under the seed load. */
export function koaMiss(a: Figures | undefined, b: Figures | undefined): string {
  if (a?.steadyAddedP99 === undefined || b?.steadyAddedP99 === undefined) return '';
  const miss = b.steadyAddedP99 - a.steadyAddedP99;
  return miss > 10
    ? `(b) alone is ${n(miss)} ms over (a)'s p99, past the +10 ms target by itself: on this machine Koa + koa-bodyparser + zod leave no room for batching's own costs.`
    : miss > 0
      ? `(b) alone is within ${n(miss)} ms of (a)'s p99: here the gap is batching's own costs.`
      : `(b) alone is no slower than (a) here (${n(b.steadyAddedP99, 1)} against ${n(a.steadyAddedP99, 1)} ms; the two move by tens of milliseconds from run to run): the gap is batching's own costs.`;
}
