// What each client has in flight, so that no client takes more than its share (CLIENT_SHARE) of
// the limits everyone shares: the pending agents of all keys, the pending agents of each key, and
// the mailboxes. A client is its API key when keys are configured, else its address. An entry
// lives only while the client has something in flight.

export interface ClientState {
  readonly id: string;
  /** Parts in flight, all keys. */
  live: number;
  /** Parts in flight per key. */
  readonly perKey: Map<string, number>;
}

export class ClientTable {
  readonly #clients = new Map<string, ClientState>();

  get size(): number {
    return this.#clients.size;
  }

  /** The client's state (an empty one, not yet stored, for a client with nothing in flight). */
  peek(id: string): ClientState {
    return this.#clients.get(id) ?? {id, live: 0, perKey: new Map()};
  }

  hold(client: ClientState, key: string): void {
    if (client.live === 0) this.#clients.set(client.id, client);
    client.live++;
    client.perKey.set(key, (client.perKey.get(key) ?? 0) + 1);
  }

  release(client: ClientState, key: string): void {
    client.live--;
    const left = (client.perKey.get(key) ?? 1) - 1;
    if (left === 0) client.perKey.delete(key);
    else client.perKey.set(key, left);
    if (client.live === 0) this.#clients.delete(client.id);
  }
}
