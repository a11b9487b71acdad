// Claims: what clients refused within their fair part asked for (admission.ts). Admission cannot
// evict admitted agents, so a client that finds a limit full leaves a claim: until it comes back
// (its Retry-After and a short grace), it counts among the clients sharing each limit, and as the
// others' agents finish, the freed capacity waits for it instead of going back to whoever fills
// fastest. A claim stakes at most what was held of the limit when it was made (`heldThen`): of
// the capacity free now it holds back only what was freed since (held then, not now), never what
// was already free: a claim left on an idle service holds nothing back, and claims cannot keep
// capacity reserved by being renewed on it. A mailbox claim counts only the keys of its request
// without a busy mailbox now.
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
  /** What it would take of the limit now (a mailbox claim: its keys without a busy mailbox). */
  readonly wants: () => number;
  /** What all clients held of the limit when the claim was made. */
  readonly heldThen: number;
  /** Until when the claim holds (epoch ms). */
  readonly deadline: number;
}

/** Some claims on one limit. */
export interface Queue {
  /** What they would take of the limit now. */
  readonly wants: number;
  /**
   * The most that was held of the limit when one of them was made: they stake no more than that,
   * what was held then being held still or freed since (never capacity that was free then).
   */
  readonly heldThen: number;
  /** When the last of them ends unless renewed (epoch ms), 0 with none. */
  readonly until: number;
}

/** The claims on one limit. */
export interface ClaimsOn {
  /** Clients with a claim on it. */
  readonly clients: number;
  /** Agents (or mailboxes) they claim. */
  readonly amount: number;
  /**
   * The claims ahead of a client that would hold `level`, at `place` (Infinity, Infinity: all),
   * not lapsed at `now` (a claim stops counting at its deadline, before its timer runs).
   */
  queue(level: number, place: number, now: number): Queue;
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

  queue(level: number, place: number, now: number): Queue {
    let wants = 0;
    let heldThen = 0;
    let until = 0;
    for (const s of this.#shares) {
      if (!before(s, level, place) || s.deadline <= now) continue;
      wants += s.wants();
      heldThen = Math.max(heldThen, s.heldThen);
      until = Math.max(until, s.deadline);
    }
    return {wants, heldThen, until};
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

/** Whether a claim is served before a client that would hold `level`, at `place` in line. */
const before = (s: Share, level: number, place: number) => s.level < level || (s.level === level && s.place < place);

/** What is held of each limit now (the key table, keys.ts). */
export interface Usage {
  /** Agents in flight, all keys. */
  readonly live: number;
  /** Keys with agents in flight (mailboxes held). */
  readonly busy: number;
  get(key: string): {readonly live: number} | undefined;
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

const none: ClaimsOn = Object.freeze({
  clients: 0,
  amount: 0,
  queue: () => Object.freeze({wants: 0, heldThen: 0, until: 0}),
  sumMin: () => 0,
});
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
   * with `usage` what is held of each limit now, at `place` in line (the one `drop` gave back, or
   * a new one at the end). False when the table is full of claims that would all be served before
   * it: then it is not kept.
   */
  claim(
    client: ClientState,
    rowsPerKey: ReadonlyMap<string, number>,
    deadline: number,
    usage: Usage,
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
    const newKeys: string[] = [];
    const fixed = (amount: number) => () => amount;
    for (const [key, n] of rowsPerKey) {
      const mine = client.perKey.get(key) ?? 0;
      if (mine === 0) newKeys.push(key);
      let onKey = this.#perKey.get(key);
      if (!onKey) this.#perKey.set(key, (onKey = new Shares()));
      const held = () => client.perKey.get(key) ?? 0;
      const heldThen = usage.get(key)?.live ?? 0;
      shares.push([onKey, {level: mine + n, amount: n, place, held, wants: fixed(n), heldThen, deadline}, key]);
    }
    const total = {level, amount: rows, place, held: () => client.live, wants: fixed(rows), deadline};
    shares.push([this.#total, {...total, heldThen: usage.live}, undefined]);
    if (newKeys.length > 0) {
      const held = () => client.perKey.size;
      const wants = () => newKeys.filter((key) => !((usage.get(key)?.live ?? 0) > 0)).length;
      const mailboxes = {level: client.perKey.size + newKeys.length, amount: newKeys.length, place, held, wants};
      shares.push([this.#mailboxes, {...mailboxes, heldThen: usage.busy, deadline}, undefined]);
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
