// What each client has in flight, for the fair share (admission.ts): the pending agents of all
// keys, of each key, and the keys (mailboxes) it holds; and, per key, how many clients hold some
// of it. A client is its API key when keys are configured, else its address. An entry lives only
// while the client has something in flight.

export interface ClientState {
  readonly id: string;
  /** Parts in flight, all keys. */
  live: number;
  /** Parts in flight per key. */
  readonly perKey: Map<string, number>;
}

export class ClientTable {
  readonly #clients = new Map<string, ClientState>();
  /** key -> clients with parts of it in flight. */
  readonly #holders = new Map<string, number>();

  /** Clients with something in flight. */
  get size(): number {
    return this.#clients.size;
  }

  /** Clients with parts of this key in flight. */
  holders(key: string): number {
    return this.#holders.get(key) ?? 0;
  }

  /** The client's state (an empty one, not yet stored, for a client with nothing in flight). */
  peek(id: string): ClientState {
    return this.#clients.get(id) ?? {id, live: 0, perKey: new Map()};
  }

  hold(client: ClientState, key: string): void {
    if (client.live === 0) this.#clients.set(client.id, client);
    client.live++;
    const mine = client.perKey.get(key) ?? 0;
    if (mine === 0) this.#holders.set(key, this.holders(key) + 1);
    client.perKey.set(key, mine + 1);
  }

  release(client: ClientState, key: string): void {
    client.live--;
    const left = (client.perKey.get(key) ?? 1) - 1;
    if (left === 0) {
      client.perKey.delete(key);
      const holders = this.holders(key) - 1;
      if (holders === 0) this.#holders.delete(key);
      else this.#holders.set(key, holders);
    } else client.perKey.set(key, left);
    if (client.live === 0) this.#clients.delete(client.id);
  }
}
