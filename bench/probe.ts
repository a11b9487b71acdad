// Preloaded into a bench server (`node --import ./bench/probe.ts …`, with PROBE_OUT=file): records
// the main thread's GC pauses (perf_hooks GC entries), event-loop delay and heap, and writes them
// as JSON when the process is asked to stop. Costs nothing measurable: an observer and a sampler.

import {writeFileSync} from 'node:fs';
import {constants, monitorEventLoopDelay, PerformanceObserver} from 'node:perf_hooks';
import type {NodeGCPerformanceDetail} from 'node:perf_hooks';

const kindNames: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const out = process.env.PROBE_OUT;
if (out) {
  const pauses: number[] = [];
  /** The longest pause and the total, per kind of collection. */
  const byKind: Record<string, {maxMs: number; totalMs: number; count: number}> = {};
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses.push(entry.duration);
      const kind = kindNames[(entry as {detail?: NodeGCPerformanceDetail}).detail?.kind ?? -1] ?? 'other';
      const k = (byKind[kind] ??= {maxMs: 0, totalMs: 0, count: 0});
      k.maxMs = Math.max(k.maxMs, entry.duration);
      k.totalMs += entry.duration;
      k.count++;
    }
  });
  observer.observe({entryTypes: ['gc']});
  const delay = monitorEventLoopDelay({resolution: 10});
  delay.enable();
  let heapMax = 0;
  const baseline = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }, 100);
  sampler.unref();
  const write = () => {
    const sorted = [...pauses].sort((a, b) => a - b);
    writeFileSync(
      out,
      JSON.stringify({
        gcCount: pauses.length,
        gcTotalMs: pauses.reduce((a, b) => a + b, 0),
        gcMaxMs: sorted.at(-1) ?? 0,
        gcP99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
        gcByKind: byKind,
        gcOver20Ms: pauses.filter((p) => p > 20).length,
        eventLoopP99Ms: delay.percentile(99) / 1e6,
        eventLoopMaxMs: delay.max / 1e6,
        heapBaselineMb: baseline / 2 ** 20,
        heapMaxMb: heapMax / 2 ** 20,
      }),
    );
  };
  // Written first on SIGTERM (before the server's own handler drains and exits) and on SIGUSR2.
  process.prependListener('SIGTERM', write);
  process.on('SIGUSR2', write);
}
