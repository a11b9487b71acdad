// The keys alive in the coordinator: where each key's actor lives (its thread), how many of its
// parts are in flight, and its backend latency as measured so far.
//
// Placement is stable: a new key goes to the thread hosting the fewest keys and stays there while
// it has anything in flight. A key with nothing in flight for a while is retired (forgotten here;
// its actor retired itself in its thread when it went empty), and may come back on another thread.

export interface KeyState {
  readonly key: string;
  readonly thread: number;
  /** Parts sent to the thread and not yet answered for by it. */
  live: number;
  idleSince: number;
  /** Smoothed backend latency of this key's calls. */
  latencyMs: number;
}

/** Weight of the newest measured call in a key's latency estimate. */
const latencyWeight = 0.2;

export class KeyTable {
  readonly #keys = new Map<string, KeyState>();
  readonly #keysPerThread: number[];
  readonly #expectedLatencyMs: number;
  readonly #onRetired: (key: string) => void;
  #live = 0;

  /**
   * @param threads actor threads to place keys on
   * @param expectedLatencyMs latency assumed for a key before one of its calls is measured
   */
  constructor(threads: number, expectedLatencyMs: number, onRetired: (key: string) => void = () => {}) {
    this.#keysPerThread = new Array<number>(threads).fill(0);
    this.#expectedLatencyMs = expectedLatencyMs;
    this.#onRetired = onRetired;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Parts in flight, all keys. */
  get live(): number {
    return this.#live;
  }

  get(key: string): KeyState | undefined {
    return this.#keys.get(key);
  }

  values(): IterableIterator<KeyState> {
    return this.#keys.values();
  }

  /** The key's state, placing a new key on the thread hosting the fewest keys. */
  place(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state) return state;
    let thread = 0;
    for (let i = 1; i < this.#keysPerThread.length; i++) if (this.#keysPerThread[i] < this.#keysPerThread[thread]) thread = i;
    this.#keysPerThread[thread]++;
    state = {key, thread, live: 0, idleSince: 0, latencyMs: this.#expectedLatencyMs};
    this.#keys.set(key, state);
    return state;
  }

  /** One more of the key's parts is in flight. */
  hold(state: KeyState): void {
    state.live++;
    this.#live++;
  }

  /** One of the key's parts was answered for by its thread. */
  release(state: KeyState, now: number): void {
    state.live--;
    this.#live--;
    if (state.live === 0) state.idleSince = now;
  }

  /** Folds one measured backend call into the key's latency estimate. */
  measured(key: string, backendMs: number): void {
    const state = this.#keys.get(key);
    if (state) state.latencyMs += latencyWeight * (backendMs - state.latencyMs);
  }

  /** Forgets keys idle since before `before` (at most `limit` of them, oldest first). */
  retireIdle(before: number, limit = Infinity): void {
    const idle = [...this.#keys.values()].filter((k) => k.live === 0 && k.idleSince < before);
    idle.sort((a, b) => a.idleSince - b.idleSince);
    for (const state of idle.slice(0, limit)) {
      this.#keys.delete(state.key);
      this.#keysPerThread[state.thread]--;
      this.#onRetired(state.key);
    }
  }
}
