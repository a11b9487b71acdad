// What clients hold of one shared limit, kept as a histogram (amount held -> clients holding it),
// for the max-min fair share (admission.ts). Max-min over demands: a client asking less than an
// equal split gets all it asks, and what it leaves is split among the others, so the share is a
// water level L with sum(min(demand, L)) = limit. A client asking `x` is above its share exactly
// when sum(min(demand, x)) over every client, itself counted at x, exceeds the limit.
//
// Small whatever the clients: the distinct amounts held add up to at most what is held, so with
// `held` agents there are fewer than sqrt(2 * held) of them (447 for 100,000); sumMin reads each
// once. Empty amounts are deleted: nothing grows with clients gone.

export class Demands {
  readonly #count = new Map<number, number>();

  /** Clients holding some. */
  clients = 0;

  /** A client's holding went from `before` to `after` (0 = holds none). */
  move(before: number, after: number): void {
    if (before === after) return;
    if (before > 0) {
      const left = (this.#count.get(before) ?? 1) - 1;
      if (left === 0) this.#count.delete(before);
      else this.#count.set(before, left);
      this.clients--;
    }
    if (after > 0) {
      this.#count.set(after, (this.#count.get(after) ?? 0) + 1);
      this.clients++;
    }
  }

  /** sum(min(held, x)) over the clients holding some. */
  sumMin(x: number): number {
    let sum = 0;
    for (const [held, n] of this.#count) sum += Math.min(held, x) * n;
    return sum;
  }

  /** Distinct amounts held (the histogram's size, for tests of its bound). */
  get distinct(): number {
    return this.#count.size;
  }
}
