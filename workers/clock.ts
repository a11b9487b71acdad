// Time, injected: the actor asks this for `now` and for its one timer, so tests can drive it.

export interface Clock {
  now(): number;
  /** Monotonic ms with sub-ms precision, for timing calls (an in-thread model runs in well under 1 ms); default now(). */
  elapsed?(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
