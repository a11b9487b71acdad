// Freshness and replays of signed frames, per sender. A frame is fresh when its signed time is
// within `freshnessMs` of ours (either way: clocks of the cluster must agree that closely); it is
// new when its sequence number was not seen from that sender (a sliding window of `window`
// numbers, as IPsec's anti-replay window: a bit per number, so frames that overtake each other
// still pass, and a number too far behind the newest is refused as a replay).
//
// The state is bounded: one window per sender (name and boot) for at most `maxSenders` senders.
// A sender not heard from for 2 × freshnessMs is forgotten when room is needed: every frame it
// ever sent is stale by then, so forgetting it lets no replay through. Only frames whose
// signature held reach this (a forger without the key cannot fill the table).

export const freshnessProblems = ['stale', 'replayed', 'too_many_senders'] as const;
export type FreshnessProblem = (typeof freshnessProblems)[number];

export interface ReplayLimits {
  /** How far a frame's signed time may be from ours, either way. */
  readonly freshnessMs: number;
  /** Sequence numbers remembered per sender (a multiple of 32). */
  readonly window: number;
  readonly maxSenders: number;
}

export const replayLimits: ReplayLimits = {freshnessMs: 10_000, window: 1024, maxSenders: 1024};

/** One sender's newest sequence number and which of the `window` before it were seen. */
class SeqWindow {
  highest = 0;
  lastAccepted: number;
  readonly #bits: Uint32Array;
  readonly #size: number;

  constructor(size: number, now: number) {
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
    this.lastAccepted = now;
  }

  /** True (and remembered) when `seq` was not seen and is not too old to tell. */
  accept(seq: number): boolean {
    if (seq > this.highest) {
      if (seq - this.highest >= this.#size) this.#bits.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.#clear(s);
      this.#set(seq);
      this.highest = seq;
      return true;
    }
    if (this.highest - seq >= this.#size || this.#has(seq)) return false;
    this.#set(seq);
    return true;
  }

  #has(seq: number): boolean {
    const slot = seq % this.#size;
    return (this.#bits[slot >>> 5] & (1 << (slot & 31))) !== 0;
  }

  #set(seq: number): void {
    const slot = seq % this.#size;
    this.#bits[slot >>> 5] |= 1 << (slot & 31);
  }

  #clear(seq: number): void {
    const slot = seq % this.#size;
    this.#bits[slot >>> 5] &= ~(1 << (slot & 31));
  }
}

export class ReplayGuard {
  readonly #limits: ReplayLimits;
  readonly #senders = new Map<string, SeqWindow>();

  constructor(limits: ReplayLimits = replayLimits) {
    this.#limits = limits;
  }

  /** Senders remembered now (at most maxSenders). */
  get size(): number {
    return this.#senders.size;
  }

  /** Why a frame (sender, boot, seq, ts) is refused, if it is; a frame let through is remembered. */
  check(sender: string, boot: string, seq: number, ts: number, now: number): FreshnessProblem | undefined {
    if (Math.abs(now - ts) > this.#limits.freshnessMs) return 'stale';
    const id = `${sender} ${boot}`;
    let window = this.#senders.get(id);
    if (!window) {
      if (this.#senders.size >= this.#limits.maxSenders && !this.#forgetStale(now)) return 'too_many_senders';
      window = new SeqWindow(this.#limits.window, now);
      this.#senders.set(id, window);
    }
    if (!window.accept(seq)) return 'replayed';
    window.lastAccepted = now;
    return undefined;
  }

  /** Forgets every sender whose frames are all stale by now; false when there was none. */
  #forgetStale(now: number): boolean {
    const before = this.#senders.size;
    for (const [id, window] of this.#senders)
      if (now - window.lastAccepted > 2 * this.#limits.freshnessMs) this.#senders.delete(id);
    return this.#senders.size < before;
  }
}
