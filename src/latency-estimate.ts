// A backend's latency as measured so far, smoothed: each call moves the estimate a fifth of the way
// toward what it took, so about the last ten calls count. One rule for the coordinator's
// Retry-After (coordinator/keys.ts) and for a key's adaptive batch window (workers/wait-window.ts).

/** Weight of the newest call in the estimate. */
export const latencyWeight = 0.2;

/** The estimate after one more call of `measuredMs`; with no estimate yet, the call itself. */
export function smoothed(estimateMs: number | undefined, measuredMs: number): number {
  return estimateMs === undefined ? measuredMs : estimateMs + latencyWeight * (measuredMs - estimateMs);
}
