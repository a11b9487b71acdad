// The keys alive in the coordinator: where each key's actor lives (its thread), how many of its
// parts are in flight, and its backend latency as measured so far.
//
// Placement is stable: a new key goes where the transport's placement says (transport.ts) and
// stays there while it has anything in flight. A key with nothing in flight for a while is
// retired (forgotten here; its actor retired itself in its thread when it went empty), and may
// come back on another thread.

import type {BatchingOptions} from '../config.ts';
import {smoothed} from '../latency-estimate.ts';
import type {Placement} from './transport.ts';

export interface KeyState {
  readonly key: string;
  /** Where new parts of the key go (a part remembers the thread it was sent to). */
  thread: number;
  /** Parts sent to the thread and not yet answered for by it. */
  live: number;
  idleSince: number;
  /** Smoothed backend latency of this key's calls. */
  latencyMs: number;
}

const defaultKeyIdleMs = 60_000;
/** The idle-key sweep runs at least this often. */
const maxSweepIntervalMs = 10_000;

export class KeyTable {
  readonly #keys = new Map<string, KeyState>();
  readonly #keysPerThread = new Map<number, number>();
  readonly #placement: Placement;
  readonly #keysOn = (thread: number) => this.#keysPerThread.get(thread) ?? 0;
  readonly #expectedLatencyMs: number;
  readonly #onRetired: (key: string) => void;
  #live = 0;
  #sweeper: NodeJS.Timeout | undefined;
  /** Keys with something in flight (an idle key's mailbox can be given to a new key). */
  #busy = 0;

  /**
   * @param placement where a new key goes (the transport's)
   * @param expectedLatencyMs latency assumed for a key before one of its calls is measured
   */
  constructor(placement: Placement, expectedLatencyMs: number, onRetired: (key: string) => void = () => {}) {
    this.#placement = placement;
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

  /** Keys with parts in flight. */
  get busy(): number {
    return this.#busy;
  }

  get(key: string): KeyState | undefined {
    return this.#keys.get(key);
  }

  values(): IterableIterator<KeyState> {
    return this.#keys.values();
  }

  /** Whether a key not yet alive could be placed now (some thread is up). */
  canPlace(key: string): boolean {
    const state = this.#keys.get(key);
    return (state !== undefined && state.thread >= 0) || this.#threadFor(key) !== undefined;
  }

  /** The key's state, placing a new (or displaced) key. Call canPlace first. */
  place(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state && state.thread >= 0) return state;
    const thread = this.#threadFor(key) ?? 0;
    this.#keysPerThread.set(thread, (this.#keysPerThread.get(thread) ?? 0) + 1);
    if (state) state.thread = thread;
    else {
      state = {key, thread, live: 0, idleSince: 0, latencyMs: this.#expectedLatencyMs};
      this.#keys.set(key, state);
    }
    return state;
  }

  /**
   * The thread takes no new parts: its idle keys are forgotten, its busy ones are placed anew
   * on their next part (their parts in flight stay where they are).
   */
  displace(thread: number): void {
    for (const state of this.#keys.values()) {
      if (state.thread !== thread) continue;
      this.#unplace(state);
      if (state.live === 0) this.#forget(state);
    }
  }

  #threadFor(key: string): number | undefined {
    return this.#placement.place(key, this.#keysOn);
  }

  #unplace(state: KeyState): void {
    if (state.thread < 0) return;
    const left = (this.#keysPerThread.get(state.thread) ?? 1) - 1;
    if (left === 0) this.#keysPerThread.delete(state.thread);
    else this.#keysPerThread.set(state.thread, left);
    state.thread = -1;
  }

  #forget(state: KeyState): void {
    this.#unplace(state);
    this.#keys.delete(state.key);
    this.#onRetired(state.key);
  }

  /** One more of the key's parts is in flight. */
  hold(state: KeyState): void {
    if (state.live++ === 0) this.#busy++;
    this.#live++;
  }

  /** One of the key's parts was answered for by its thread. */
  release(state: KeyState, now: number): void {
    state.live--;
    this.#live--;
    if (state.live === 0) {
      state.idleSince = now;
      this.#busy--;
    }
  }

  /** Folds one measured backend call into the key's latency estimate. */
  measured(key: string, backendMs: number): void {
    const state = this.#keys.get(key);
    if (state) state.latencyMs = smoothed(state.latencyMs, backendMs);
  }

  /** Forgets keys idle since before `before` (at most `limit` of them, oldest first, none of `keep`). */
  retireIdle(before: number, limit = Infinity, keep?: ReadonlyMap<string, unknown>): void {
    const idle = [...this.#keys.values()].filter((k) => k.live === 0 && k.idleSince < before && !keep?.has(k.key));
    idle.sort((a, b) => a.idleSince - b.idleSince);
    for (const state of idle.slice(0, limit)) this.#forget(state);
  }

  /** From now on, a key with nothing in flight for `idleMs` is retired (swept at least every 10 s). */
  retireWhenIdle(idleMs = defaultKeyIdleMs): void {
    clearInterval(this.#sweeper);
    this.#sweeper = setInterval(() => this.retireIdle(Date.now() - idleMs), Math.min(idleMs, maxSweepIntervalMs));
    this.#sweeper.unref();
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}

/**
 * Retry-After for a refusal, in seconds, from the keys' measured latency. `when` says what the
 * client waits for: `all` the backlog of every key drained (its own keys, above its share);
 * `first` the first of them drained (a mailbox freed); `room` room for `need` agents, which the
 * keys' next rounds of batches free (each round up to maxBatchSize × maxConcurrentBatches agents a
 * key), the soonest key first. Never the whole backlog's drain for a small request: claims keep
 * what frees for the client that comes back then.
 */
export function drainSeconds(
  keys: Iterable<KeyState>,
  batching: BatchingOptions,
  when: 'all' | 'first' | 'room' = 'all',
  need = 0,
): number {
  const {maxBatchSize, maxConcurrentBatches} = batching;
  const perRound = maxConcurrentBatches === 0 ? Number.POSITIVE_INFINITY : maxBatchSize * maxConcurrentBatches;
  let worstMs = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  let roomMs = Number.POSITIVE_INFINITY;
  for (const key of keys) {
    if (key.live === 0) continue;
    const rounds = Math.max(1, Math.ceil(key.live / perRound));
    worstMs = Math.max(worstMs, rounds * key.latencyMs);
    firstMs = Math.min(firstMs, rounds * key.latencyMs);
    roomMs = Math.min(roomMs, Math.max(1, Math.ceil(Math.min(key.live, need) / perRound)) * key.latencyMs);
  }
  const ms = when === 'all' ? worstMs : when === 'first' ? firstMs : roomMs;
  return Math.max(1, Math.ceil((Number.isFinite(ms) ? ms : 0) / 1000));
}
