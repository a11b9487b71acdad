// Freshness and replays of signed frames, one window per sender *name*. The rules, in order:
//
//   1. fresh: the frame's signed time `ts` is within `freshnessMs` of ours, either way (clocks of
//      the cluster must agree that closely)                                          stale
//   2. not signed before its own start (the boot's start time, nats.ts bootId)       bad_boot
//   3. tied to time: a sender counts its frames from 1 at its start, and never lower than
//      `seqPerMs` per ms since then (signing.ts); a frame whose seq exceeds
//      (ts - start) × seqPerMs + seqSlack is refused. So a key holder who signs a frame with
//      seq 2^53-1 is refused, and the highest seq anyone can make a receiver accept is at most
//      (freshnessMs + seqSlack / seqPerMs) of time ahead of the real sender's own counter: a
//      forged jump locks the real sender out for at most that long (15 s), never for good
//                                                                                   seq_ahead
//   4. one start per name: the window remembers the boot (and its signed start time, the boot's
//      first 12 hex digits: nats.ts) it last accepted; a frame of a boot that started later
//      replaces the window (a restart), one of a boot that started earlier is refused: an
//      older start never comes back while its name is remembered                         old_boot
//   5. new: its seq was not seen from that boot (a sliding window of `window` numbers, as
//      IPsec's anti-replay window: a bit per number, so frames that overtake each other
//      still pass, and a number too far behind the newest is refused as a replay)        replayed
//
// The state is bounded: at most `maxSenders` names. When a new name comes and the table is full,
// the name heard from least recently is forgotten: a new sender (a real node that restarted, or
// one that joins) is never refused for room. Only frames whose signature held reach this, so only
// a key holder can fill the table; forgetting a name lets a key holder replay that name's
// recorded frames while they are fresh, which it could as well sign anew (signing.ts says what
// the key does not stop).

export const freshnessProblems = ['stale', 'bad_boot', 'seq_ahead', 'old_boot', 'replayed'] as const;
export type FreshnessProblem = (typeof freshnessProblems)[number];

export interface ReplayLimits {
  /** How far a frame's signed time may be from ours, either way. */
  readonly freshnessMs: number;
  /** Sequence numbers remembered per sender (a multiple of 32). */
  readonly window: number;
  readonly maxSenders: number;
  /** A sender's seq is at least this many per ms since its start (signing.ts), and … */
  readonly seqPerMs: number;
  /** … at most this many above that (a burst faster than seqPerMs). */
  readonly seqSlack: number;
}

export const replayLimits: ReplayLimits = {
  freshnessMs: 10_000,
  // 4096 numbers: frames up to ~40 ms apart may overtake each other (seqPerMs).
  window: 4096,
  maxSenders: 1024,
  // A node signs at most 100,000 frames a second for long, with bursts of 500,000 more; a forged
  // jump is overtaken by the real sender's clock within freshnessMs + 5 s.
  seqPerMs: 100,
  seqSlack: 500_000,
};

/** One sender's start, its newest sequence number and which of the `window` before it were seen. */
class SeqWindow {
  highest = 0;
  readonly boot: string;
  readonly started: number;
  readonly #bits: Uint32Array;
  readonly #size: number;

  constructor(size: number, boot: string, started: number) {
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
    this.boot = boot;
    this.started = started;
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

/** Whether start (started, boot) is later than the window's (equal times: the greater boot id). */
export function startsLater(started: number, boot: string, than: {started: number; boot: string}): boolean {
  return started > than.started || (started === than.started && boot > than.boot);
}

/** A frame's envelope, as the replay guard reads it. */
export interface Envelope {
  readonly sender: string;
  readonly boot: string;
  /** The boot's signed start time (nats.ts bootStart). */
  readonly started: number;
  readonly seq: number;
  readonly ts: number;
}

export class ReplayGuard {
  readonly #limits: ReplayLimits;
  /** Name -> its window; in order of last accepted frame, least recent first. */
  readonly #senders = new Map<string, SeqWindow>();

  constructor(limits: ReplayLimits = replayLimits) {
    this.#limits = limits;
  }

  /** Senders remembered now (at most maxSenders). */
  get size(): number {
    return this.#senders.size;
  }

  /**
   * Why a frame is refused, if it is; a frame let through is remembered. `mayReplace` is asked
   * before a later start replaces a name's window: its refusal (the gateway's membership refusing
   * that start) keeps the window, so the live start's frames still pass.
   */
  check(
    {sender, boot, started, seq, ts}: Envelope,
    now: number,
    mayReplace?: () => string | undefined,
  ): FreshnessProblem | string | undefined {
    const {freshnessMs, seqPerMs, seqSlack, maxSenders, window: size} = this.#limits;
    if (Math.abs(now - ts) > freshnessMs) return 'stale';
    if (started > ts) return 'bad_boot';
    if (seq > (ts - started) * seqPerMs + seqSlack) return 'seq_ahead';
    let window = this.#senders.get(sender);
    if (window && window.boot !== boot) {
      if (!startsLater(started, boot, window)) return 'old_boot';
      const refused = mayReplace?.();
      if (refused) return refused;
      window = undefined;
    }
    if (!window) {
      window = new SeqWindow(size, boot, started);
      if (!window.accept(seq)) return 'replayed';
      this.#senders.delete(sender);
      if (this.#senders.size >= maxSenders) this.#senders.delete(this.#senders.keys().next().value as string);
      this.#senders.set(sender, window);
      return undefined;
    }
    if (!window.accept(seq)) return 'replayed';
    // Most recently heard last: the first in the map is the one forgotten for room.
    this.#senders.delete(sender);
    this.#senders.set(sender, window);
    return undefined;
  }
}
