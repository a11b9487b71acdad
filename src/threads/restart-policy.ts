// When a thread that exited is started again (DESIGN §5: a worker thread that dies is restarted),
// as a pure policy: a thread that lived less than `stableAfterMs` counts one more failure in a row,
// one that lived longer starts the count again; the first restart is at once, each further one
// waits twice as long (100 ms, 200 ms, …) up to `maxBackoffMs`, so a thread that keeps dying is
// not restarted in a tight loop.

/** A thread that lived less than this before dying counts as crash-looping. */
export const stableAfterMs = 5000;
const maxBackoffMs = 30_000;

/** Failures in a row, counting this exit of a thread that lived `livedMs` after `before` failures. */
export function failuresInARow(before: number, livedMs: number): number {
  return livedMs < stableAfterMs ? before + 1 : 1;
}

/** How long to wait before restarting a thread after its `failures`-th failure in a row. */
export function restartDelayMs(failures: number): number {
  return failures <= 1 ? 0 : Math.min(maxBackoffMs, 100 * 2 ** (failures - 2));
}
