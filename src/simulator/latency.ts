// The simulated network's one latency rule (DESIGN §4): uniform in [min, max] ms per call, whatever
// the batch size. Every stand-in for the backend (in-process, `npm run backend`, the bench's
// recorder and baselines) draws its delay here.

export interface LatencyRange {
  readonly latencyMinMs: number;
  readonly latencyMaxMs: number;
}

export function sampleLatencyMs(range: LatencyRange, random: () => number = Math.random): number {
  return range.latencyMinMs + random() * (range.latencyMaxMs - range.latencyMinMs);
}
