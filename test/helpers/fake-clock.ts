// A manual clock for the actor: time moves only when the test says so.

import type {Clock} from '../../workers/clock.ts';

export class FakeClock implements Clock {
  #now = 0;
  #timers = new Map<number, {at: number; fn: () => void}>();
  #seq = 0;

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, {at: this.#now + ms, fn});
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, {at: number; fn: () => void}] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}
