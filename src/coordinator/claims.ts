// Claims: what clients refused within their fair part asked for (admission.ts). Admission cannot
// evict admitted agents, so a client that finds a limit full leaves a claim: until it comes back
// (its Retry-After and a grace), the capacity it asked for is kept from clients that would hold
// more than it, and it counts among the clients sharing each limit. As the others' agents finish,
// the freed capacity waits for it instead of going back to whoever fills fastest.
//
// Claims are served as max-min fairness fills levels: on each limit a claim has a level, what its
// client would hold of the limit once admitted, and a place in line (the order of first refusal,
// kept while the client keeps asking). A client gives way to the claims below its own level, and
// at its level to those ahead of it in line; the lowest-earliest claimant is never blocked by
// another claim.
//
// Bounded: at most `maxClaims` clients, each claim one request's keys. Past that, the claim that
// would be served last (the largest on the total, then the latest) gives way, or the new one is
// not kept if it would be served later still: a flood of new addresses cannot push out the claims
// of the clients that asked first for less. A client's claim is replaced by its next refusal
// (keeping its place) and dropped when it is admitted.

import type {ClientState} from './clients.ts';
import {DeadlineQueue} from './deadlines.ts';
import type {Timed} from './deadlines.ts';

/** One claim on one limit. */
interface Share {
  /** What the client would hold of the limit once admitted. */
  readonly level: number;
  readonly amount: number;
  readonly place: number;
  /** What the client holds of the limit now (only falls while it has a claim: asking drops it). */
  readonly held: () => number;
}

/** The claims on one limit. */
export interface ClaimsOn {
  /** Clients with a claim on it. */
  readonly clients: number;
  /** Agents (or mailboxes) they claim. */
  readonly amount: number;
  /** What the claims ahead of a client that would hold `level`, at `place` in line, ask for. */
  ahead(level: number, place: number): number;
  /**
   * For the max-min share: sum(min(level, x) - min(held, x)) over the claims, what the claimants'
   * demands add beyond their holdings (already in the holders' histogram, demands.ts).
   */
  sumMin(x: number): number;
}

class Shares implements ClaimsOn {
  clients = 0;
  amount = 0;
  readonly #shares = new Set<Share>();

  ahead(level: number, place: number): number {
    let amount = 0;
    for (const s of this.#shares) if (s.level < level || (s.level === level && s.place < place)) amount += s.amount;
    return amount;
  }

  sumMin(x: number): number {
    let sum = 0;
    for (const s of this.#shares) sum += Math.min(s.level, x) - Math.min(s.held(), x);
    return sum;
  }

  add(share: Share): void {
    this.#shares.add(share);
    this.clients++;
    this.amount += share.amount;
  }

  remove(share: Share): void {
    this.#shares.delete(share);
    this.clients--;
    this.amount -= share.amount;
  }
}

interface Claim extends Timed {
  readonly client: string;
  readonly deadline: number;
  heapIndex: number;
  readonly place: number;
  /** What it would hold of the total once admitted: the larger, the later it is served. */
  readonly level: number;
  readonly shares: readonly (readonly [Shares, Share, string | undefined])[];
}

const none: ClaimsOn = Object.freeze({clients: 0, amount: 0, ahead: () => 0, sumMin: () => 0});
/** Clients with a claim at once, at most. */
export const defaultMaxClaims = 1024;

export class ClaimTable {
  readonly #byClient = new Map<string, Claim>();
  readonly #expiry = new DeadlineQueue<Claim>((claim) => this.#remove(claim));
  readonly #perKey = new Map<string, Shares>();
  readonly #total = new Shares();
  readonly #mailboxes = new Shares();
  readonly #max: number;
  #places = 0;

  constructor(maxClaims = defaultMaxClaims) {
    this.#max = maxClaims;
  }

  /** Clients with a claim. */
  get size(): number {
    return this.#byClient.size;
  }

  /** Claims on one key's mailbox. */
  onKey(key: string): ClaimsOn {
    return this.#perKey.get(key) ?? none;
  }

  /** Claims on MAX_PENDING_TOTAL. */
  get total(): ClaimsOn {
    return this.#total;
  }

  /** Claims on MAX_MAILBOXES. */
  get mailboxes(): ClaimsOn {
    return this.#mailboxes;
  }

  /**
   * The client's claim for a request of `rowsPerKey` agents per key, until `deadline` (epoch ms),
   * at `place` in line (the one `drop` gave back, or a new one at the end). False when the table
   * is full of claims that would all be served before it: then it is not kept.
   */
  claim(
    client: ClientState,
    rowsPerKey: ReadonlyMap<string, number>,
    deadline: number,
    place = ++this.#places,
  ): boolean {
    this.drop(client.id);
    let rows = 0;
    for (const n of rowsPerKey.values()) rows += n;
    const level = client.live + rows;
    if (this.#byClient.size >= this.#max) {
      const last = this.#servedLast();
      if (last.level < level || (last.level === level && last.place < place)) return false;
      this.#remove(last);
    }
    const shares: [Shares, Share, string | undefined][] = [];
    let newKeys = 0;
    for (const [key, n] of rowsPerKey) {
      const mine = client.perKey.get(key) ?? 0;
      if (mine === 0) newKeys++;
      let onKey = this.#perKey.get(key);
      if (!onKey) this.#perKey.set(key, (onKey = new Shares()));
      const held = () => client.perKey.get(key) ?? 0;
      shares.push([onKey, {level: mine + n, amount: n, place, held}, key]);
    }
    shares.push([this.#total, {level, amount: rows, place, held: () => client.live}, undefined]);
    if (newKeys > 0) {
      const held = () => client.perKey.size;
      shares.push([this.#mailboxes, {level: client.perKey.size + newKeys, amount: newKeys, place, held}, undefined]);
    }
    for (const [on, share] of shares) on.add(share);
    const claim: Claim = {client: client.id, deadline, heapIndex: -1, place, level, shares};
    this.#byClient.set(client.id, claim);
    this.#expiry.add(claim);
    return true;
  }

  /** The claim that would be served last: the largest on the total, then the latest in line. */
  #servedLast(): Claim {
    let last: Claim | undefined;
    for (const c of this.#byClient.values())
      if (!last || c.level > last.level || (c.level === last.level && c.place > last.place)) last = c;
    return last as Claim;
  }

  /** The client's claim ends (it was admitted, or is asking again); its place in line, if it had one. */
  drop(client: string): number | undefined {
    const claim = this.#byClient.get(client);
    if (!claim) return undefined;
    this.#remove(claim);
    return claim.place;
  }

  /** Stops the expiry timer (shutdown). */
  close(): void {
    this.#expiry.close();
  }

  #remove(claim: Claim): void {
    this.#byClient.delete(claim.client);
    this.#expiry.delete(claim);
    for (const [on, share, key] of claim.shares) {
      on.remove(share);
      if (key !== undefined && on.clients === 0) this.#perKey.delete(key);
    }
  }
}
