// Refusals to a client that came back before its Retry-After are answered when it should have
// come back. An honest client never waits for this. A flood that ignores Retry-After (a new
// request the moment its 503 arrives, on hundreds of kept-alive connections) is slowed to about
// one request per Retry-After per connection, so its refusals no longer fill the event loop: on
// a saturated loop Node (20 and later, libuv 1.46) accepts new connections only a few a second,
// and a normal client's first request on a new connection waited 8 to 55 s behind such a flood
// (bench/RESULTS.md, "Fair share").
//
// A client is the fair share's (src/coordinator/clients.ts, clientGroup). Bounded: the due times
// of at most `maxClients` clients (the oldest forgotten first), at most `maxHeld` refusals held
// at once (past it, one is answered at once), each for at most `maxHoldMs` and never past its
// request's deadline; a client that leaves is not waited for.

import type {ServerResponse} from 'node:http';

export interface EarlyRetryLimits {
  readonly maxClients: number;
  readonly maxHeld: number;
  readonly maxHoldMs: number;
}

export const defaultEarlyRetryLimits: EarlyRetryLimits = {maxClients: 10_000, maxHeld: 10_000, maxHoldMs: 10_000};

export class EarlyRetries {
  /** client -> when it may come back (epoch ms), oldest entry first. */
  readonly #dueAt = new Map<string, number>();
  readonly #limits: EarlyRetryLimits;
  #held = 0;

  constructor(limits: EarlyRetryLimits = defaultEarlyRetryLimits) {
    this.#limits = limits;
  }

  /** Clients whose due time is kept. */
  get clients(): number {
    return this.#dueAt.size;
  }

  /** Refusals held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * A refusal of `client` at `now`, telling it to come back in `retryAfterSeconds`: how long to
   * hold it (ms, 0: answer now), which is until the client's earlier refusal told it to come back.
   */
  refused(client: string, retryAfterSeconds: number, now: number, deadline: number): number {
    const due = this.#dueAt.get(client);
    this.#dueAt.delete(client);
    this.#dueAt.set(client, Math.max(due ?? 0, now + retryAfterSeconds * 1000));
    if (this.#dueAt.size > this.#limits.maxClients) {
      for (const [oldest, at] of this.#dueAt) {
        if (this.#dueAt.size <= this.#limits.maxClients && at > now) break;
        this.#dueAt.delete(oldest);
        if (this.#dueAt.size <= this.#limits.maxClients / 2) break;
      }
    }
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
