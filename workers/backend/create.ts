// The backends a thread's actors call: one client per distinct backend (one per HTTP URL, one per
// v2 or TF Serving model, one for the simulated network), shared by every key that uses it. After a
// registry reload, a client no model uses any more is closed once its calls in flight have
// finished, and those kept are told (a v2 client asks for its model's metadata again).

import type {BackendOptions} from '../../src/config.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';
import {HttpBackend} from './http.ts';
import {OnnxBackend} from './onnx.ts';
import {SimulatedBackend} from './simulated.ts';
import {tfServingClient} from './tfserving.ts';
import {v2Client} from './v2.ts';

export function createBackend(options: BackendOptions): Backend {
  switch (options.kind) {
    case 'simulated':
      return new SimulatedBackend(options);
    case 'http':
      return new HttpBackend(options);
    case 'onnx':
      return new OnnxBackend(options);
    case 'v2':
      return v2Client(options);
    case 'tfserving':
      return tfServingClient(options);
  }
}

/**
 * A client's identity: calls to the same backend share one client (and its connection pool, or
 * its ONNX session). An onnx model's id holds its file's size, mtime and inode: a SIGHUP after the
 * file changed opens a new session, and the old one closes once its batches in flight are done.
 */
export function backendId(options: BackendOptions): string {
  switch (options.kind) {
    case 'simulated':
      return `simulated ${options.latencyMinMs}-${options.latencyMaxMs}`;
    case 'http':
      return `http ${options.url}`;
    case 'onnx':
      return `onnx ${options.path} ${options.signature?.fileId ?? 'unchecked'} ${options.intraOpThreads}`;
    // Every field of a model-server backend names what its client sends: a change makes a new client.
    case 'v2': {
      const {url, model, version, input, output, datatype, binary} = options;
      return `v2 ${JSON.stringify([url, model, version, input, output, datatype, binary])}`;
    }
    case 'tfserving':
      return `tfserving ${JSON.stringify([options.url, options.model, options.version])}`;
  }
}

class CountedBackend implements Backend {
  readonly #inner: Backend;
  readonly #onIdle: () => void;
  inflight = 0;
  retired = false;

  constructor(inner: Backend, onIdle: () => void) {
    this.#inner = inner;
    this.#onIdle = onIdle;
  }

  async predict(call: BackendCall): Promise<BackendReply> {
    this.inflight++;
    try {
      return await this.#inner.predict(call);
    } finally {
      if (--this.inflight === 0 && this.retired) this.#onIdle();
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async warm(): Promise<void> {
    await this.#inner.warm?.();
  }

  registryReloaded(): void {
    this.#inner.registryReloaded?.();
  }
}

export class BackendClients {
  readonly #clients = new Map<string, CountedBackend>();
  /** Every client made and not yet closed, superseded ones included; and closes under way. */
  readonly #open = new Set<CountedBackend>();
  readonly #closing = new Set<Promise<void>>();
  readonly #create: (options: BackendOptions) => Backend;

  constructor(create: (options: BackendOptions) => Backend = createBackend) {
    this.#create = create;
  }

  get size(): number {
    return this.#clients.size;
  }

  get(options: BackendOptions): Backend {
    const id = backendId(options);
    let client = this.#clients.get(id);
    if (!client || client.retired) {
      const created: CountedBackend = new CountedBackend(this.#create(options), () => this.#close(id, created));
      client = created;
      this.#clients.set(id, client);
      this.#open.add(client);
    }
    return client;
  }

  /** Keeps the clients of these backends; the others close once idle. */
  retain(inUse: readonly BackendOptions[]): void {
    const keep = new Set(inUse.map(backendId));
    for (const [id, client] of this.#clients) {
      if (keep.has(id)) continue;
      client.retired = true;
      if (client.inflight === 0) this.#close(id, client);
    }
  }

  /** SIGHUP: every client forgets what it discovered from its server (v2 model metadata). */
  registryReloaded(): void {
    for (const client of this.#clients.values()) client.registryReloaded();
  }

  /**
   * Closes every client, those a reload superseded included, and resolves once each has closed
   * (an ONNX session after its last run): a stopping thread exits only then.
   */
  async closeAll(): Promise<void> {
    for (const client of this.#open) this.#closeOne(client);
    this.#clients.clear();
    await Promise.all(this.#closing);
  }

  #close(id: string, client: CountedBackend): void {
    if (this.#clients.get(id) === client) this.#clients.delete(id);
    this.#closeOne(client);
  }

  #closeOne(client: CountedBackend): void {
    if (!this.#open.delete(client)) return;
    const closing: Promise<void> = client
      .close()
      .catch(() => {})
      .finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }
}
