// What each client has in flight, for the fair share (admission.ts): the pending agents of all
// keys, of each key, and the keys (mailboxes) it holds; per limit, the histogram of what clients
// hold of it (demands.ts). A client is its API key when keys are configured, else its address:
// an IPv4 address (`::ffff:1.2.3.4` is 1.2.3.4), or an IPv6 address's /64 (one host is given a
// whole /64, so its 2^64 addresses are one client). An entry lives only while the client has
// something in flight: the table is bounded by the agents in flight, not by the clients seen.

import {isIPv4, isIPv6} from 'node:net';
import {Demands} from './demands.ts';

export interface ClientState {
  readonly id: string;
  /** Its number in the mailboxes, where each client's rows take turns (clientNumber). */
  readonly number: number;
  /** Parts in flight, all keys. */
  live: number;
  /** Parts in flight per key. */
  readonly perKey: Map<string, number>;
}

/**
 * The client a submission's `client` counts as: `addr:<ip>` becomes `addr:<ipv4>` or
 * `addr:<first four groups of the IPv6 address>::/64`; any other id (an API key's) is kept.
 */
export function clientGroup(id: string): string {
  if (!id.startsWith('addr:')) return id;
  const address = id.slice(5);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && isIPv4(mapped[1])) return `addr:${mapped[1]}`;
  const bare = address.split('%')[0];
  if (!isIPv6(bare)) return id;
  return `addr:${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}

/**
 * A client's number in the mailboxes (PartField.client): a 32-bit FNV-1a hash of its id, so that
 * every gateway of a cluster gives one client the same number. Two clients that share a number
 * share one turn, nothing more.
 */
export function clientNumber(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export class ClientTable {
  readonly #clients = new Map<string, ClientState>();
  /** key -> what its holders hold of it. */
  readonly #perKey = new Map<string, Demands>();
  /** What clients hold of MAX_PENDING_TOTAL (their agents in flight). */
  readonly total = new Demands();
  /** What clients hold of MAX_MAILBOXES (the keys they have agents in). */
  readonly mailboxes = new Demands();

  /** Clients with something in flight. */
  get size(): number {
    return this.#clients.size;
  }

  /** Clients with parts of this key in flight. */
  holders(key: string): number {
    return this.#perKey.get(key)?.clients ?? 0;
  }

  /** What the key's holders hold of it. */
  onKey(key: string): Demands | undefined {
    return this.#perKey.get(key);
  }

  /** The client's state (an empty one, not yet stored, for a client with nothing in flight). */
  peek(id: string): ClientState {
    return this.#clients.get(id) ?? {id, number: clientNumber(id), live: 0, perKey: new Map()};
  }

  hold(client: ClientState, key: string): void {
    if (client.live === 0) this.#clients.set(client.id, client);
    this.total.move(client.live, client.live + 1);
    client.live++;
    const mine = client.perKey.get(key) ?? 0;
    let onKey = this.#perKey.get(key);
    if (!onKey) this.#perKey.set(key, (onKey = new Demands()));
    onKey.move(mine, mine + 1);
    if (mine === 0) this.mailboxes.move(client.perKey.size, client.perKey.size + 1);
    client.perKey.set(key, mine + 1);
  }

  release(client: ClientState, key: string): void {
    this.total.move(client.live, client.live - 1);
    client.live--;
    const mine = client.perKey.get(key) ?? 1;
    const onKey = this.#perKey.get(key);
    onKey?.move(mine, mine - 1);
    if (mine === 1) {
      this.mailboxes.move(client.perKey.size, client.perKey.size - 1);
      client.perKey.delete(key);
      if (onKey?.clients === 0) this.#perKey.delete(key);
    } else client.perKey.set(key, mine - 1);
    if (client.live === 0) this.#clients.delete(client.id);
  }
}
