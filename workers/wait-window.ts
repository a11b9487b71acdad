// The batch window that follows the backend (MAX_WAIT_MS=auto, DESIGN §5): a key's window is a
// share (MAX_WAIT_FRACTION, 2%) of its measured backend latency, within 5..200 ms, and 20 ms
// before its first measured call. Waiting 2% of a 5 s call costs clients 100 ms and lets many more
// rows share the call. Pure: the caller feeds it measured latencies; no clock, no timers.

import {smoothed} from '../src/latency-estimate.ts';

export interface WindowBounds {
  readonly minMs: number;
  readonly maxMs: number;
  /** The window before any call of the key has been measured. */
  readonly initialMs: number;
}

export const defaultWindowBounds: WindowBounds = {minMs: 5, maxMs: 200, initialMs: 20};

export class WaitWindow {
  readonly #fraction: number;
  readonly #bounds: WindowBounds;
  #latencyMs: number | undefined;

  constructor(fraction: number, bounds: WindowBounds = defaultWindowBounds) {
    this.#fraction = fraction;
    this.#bounds = bounds;
  }

  /** Folds one measured backend call into the estimate. */
  observe(backendMs: number): void {
    if (!Number.isFinite(backendMs) || backendMs < 0) return;
    this.#latencyMs = smoothed(this.#latencyMs, backendMs);
  }

  /** The window now, in ms. */
  get ms(): number {
    const {minMs, maxMs, initialMs} = this.#bounds;
    if (this.#latencyMs === undefined) return initialMs;
    return Math.min(maxMs, Math.max(minMs, this.#fraction * this.#latencyMs));
  }
}
