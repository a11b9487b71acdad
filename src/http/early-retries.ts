// Refusals to a client that came back on the same connection before its Retry-After are answered
// when it should have come back. A flood that ignores Retry-After (a new request the moment its
// 503 arrives, on hundreds of kept-alive connections) is slowed to about one request per
// Retry-After per connection, so its refusals no longer fill the event loop: on a saturated loop
// Node (20 and later, libuv 1.46) accepts new connections only a few a second, and a normal
// client's first request on a new connection waited 7 to 55 s behind such a flood
// (bench/RESULTS.md, "Fair share").
//
// Held only when both the connection and the client (the fair share's, clientGroup) are the ones
// refused: honest clients behind one address (a NAT) or sharing an API key each have their own
// connections and are never held for each other; clients of one proxy share its connections, and
// are held for each other only when they also share a client (no API keys). Bounded: the due time
// lives with its connection (a WeakMap), at most `maxHeld` refusals are held at once (past it,
// one is answered at once), each for at most `maxHoldMs` and never past its request's deadline;
// a client that leaves is not waited for.

import type {ServerResponse} from 'node:http';

export interface EarlyRetryLimits {
  readonly maxHeld: number;
  readonly maxHoldMs: number;
}

export const defaultEarlyRetryLimits: EarlyRetryLimits = {maxHeld: 10_000, maxHoldMs: 10_000};

export class EarlyRetries {
  /** connection -> the client last refused on it, and when it may come back (epoch ms). */
  readonly #dueAt = new WeakMap<object, {readonly client: string; readonly at: number}>();
  readonly #limits: EarlyRetryLimits;
  #held = 0;

  constructor(limits: EarlyRetryLimits = defaultEarlyRetryLimits) {
    this.#limits = limits;
  }

  /** Refusals held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * A refusal of `client` on `connection` at `now`, telling it to come back in `retryAfterSeconds`:
   * how long to hold it (ms, 0: answer now), which is until the same client's earlier refusal on
   * the same connection told it to come back.
   */
  refused(connection: object, client: string, retryAfterSeconds: number, now: number, deadline: number): number {
    const last = this.#dueAt.get(connection);
    const due = last?.client === client ? last.at : undefined;
    this.#dueAt.set(connection, {client, at: Math.max(due ?? 0, now + retryAfterSeconds * 1000)});
    if (due === undefined || due <= now || this.#held >= this.#limits.maxHeld) return 0;
    return Math.max(0, Math.min(due - now, deadline - now, this.#limits.maxHoldMs));
  }

  /** Waits `ms`, or less if the client leaves first. */
  async hold(ms: number, res: ServerResponse): Promise<void> {
    if (ms <= 0 || res.destroyed) return;
    this.#held++;
    const {promise, resolve} = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, ms);
    res.once('close', resolve);
    try {
      await promise;
    } finally {
      clearTimeout(timer);
      res.off('close', resolve);
      this.#held--;
    }
  }
}
