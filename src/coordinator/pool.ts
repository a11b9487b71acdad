// The actor pool: ACTOR_POOL_SIZE worker threads ("slots"), each hosting the actors of the keys
// placed on it. Messages to a slot are coalesced: everything sent to it in one event-loop turn
// leaves as one DispatchMessage whose vectors share one transferred Float64Array. comlink carries
// the host's API (connect, stats); the data plane is a MessageChannel of its own
// (src/protocol/messages.ts says why).
// A thread that exits is restarted (with backoff if it keeps dying) and reported, so that the
// coordinator can fail every part it held with `worker_failed`.

import {MessageChannel, Worker} from 'node:worker_threads';
import type {Transferable} from 'node:worker_threads';
import {nodeEndpoint, transfer, wrap} from '../comlink.ts';
import type {Remote} from '../comlink.ts';
import type {Logger} from 'pino';
import type {
  ActorHostApi,
  DataPort,
  HostMessage,
  HostOptions,
  HostStats,
  PartRequest,
  ResultsMessage,
} from '../protocol/messages.ts';

export interface PoolEvents {
  results(message: ResultsMessage): void;
  /** The slot's thread is gone (or not up): every part placed on it and not yet answered is lost. */
  slotFailed(slot: number): void;
}

export interface PoolOptions {
  readonly size: number;
  readonly host: Omit<HostOptions, 'slot' | 'workerId'>;
  readonly log: Logger;
  /** The worker entry; tests may point it at a fixture. */
  readonly entry?: URL;
  /** Per-thread heap limits, so one runaway thread dies alone. */
  readonly resourceLimits?: {maxOldGenerationSizeMb?: number};
}

interface Outbox {
  keys: string[];
  keyIndex: Map<string, number>;
  parts: PartRequest[];
  vectors: ArrayLike<number>[];
  floats: number;
  withdrawals: Map<string, number[]>;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  api: Remote<ActorHostApi> | undefined;
  port: DataPort<HostMessage, ResultsMessage> | undefined;
  startedAt: number;
  failures: number;
  outbox: Outbox;
}

const defaultEntry = new URL('../../workers/actor-host.ts', import.meta.url);
const emptyOutbox = (): Outbox => ({
  keys: [],
  keyIndex: new Map(),
  parts: [],
  vectors: [],
  floats: 0,
  withdrawals: new Map(),
});

/** A thread that lived less than this before dying counts as crash-looping. */
const stableAfterMs = 5000;
const maxBackoffMs = 30_000;

export class ActorPool {
  readonly #options: PoolOptions;
  readonly #events: PoolEvents;
  readonly #slots: Slot[];
  #workerSeq = 0;
  #flushScheduled = false;
  #closed = false;
  #restarts = 0;

  constructor(options: PoolOptions, events: PoolEvents) {
    this.#options = options;
    this.#events = events;
    this.#slots = Array.from({length: options.size}, (_, index) => ({
      index,
      worker: undefined,
      api: undefined,
      port: undefined,
      startedAt: 0,
      failures: 0,
      outbox: emptyOutbox(),
    }));
    for (const slot of this.#slots) this.#start(slot);
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Threads restarted since the pool started. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Resolves once every thread has answered once (it is up and its actor host exposed). */
  async ready(): Promise<void> {
    await this.stats();
  }

  /** Queues one part for the slot's next coalesced message. */
  send(slotIndex: number, key: string, partId: number, requestId: string, deadline: number, vector: ArrayLike<number>): void {
    const box = this.#slots[slotIndex].outbox;
    let keyIndex = box.keyIndex.get(key);
    if (keyIndex === undefined) {
      keyIndex = box.keys.push(key) - 1;
      box.keyIndex.set(key, keyIndex);
    }
    box.parts.push({partId, requestId, keyIndex, offset: box.floats, length: vector.length, deadline});
    box.vectors.push(vector);
    box.floats += vector.length;
    this.#scheduleFlush();
  }

  /** Queues the withdrawal of a part (coalesced per slot and key). */
  withdraw(slotIndex: number, key: string, partId: number): void {
    const withdrawals = this.#slots[slotIndex].outbox.withdrawals;
    const ids = withdrawals.get(key);
    if (ids) ids.push(partId);
    else withdrawals.set(key, [partId]);
    this.#scheduleFlush();
  }

  /** Shutdown: every mailbox cuts its waiting rows at once. */
  drain(): void {
    this.#flush();
    for (const slot of this.#slots) slot.port?.postMessage({kind: 'drain'});
  }

  async stats(timeoutMs = 5000): Promise<HostStats[]> {
    return Promise.all(
      this.#slots.map((slot) => {
        if (!slot.api) return {actors: 0, pending: 0, inflight: 0, keys: []};
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`thread ${slot.index} did not answer`)), timeoutMs);
        });
        return Promise.race([slot.api.stats(), timeout]).finally(() => clearTimeout(timer));
      }),
    );
  }

  /** The thread of a slot, for tests and supervision. */
  threadOf(slotIndex: number): Worker | undefined {
    return this.#slots[slotIndex].worker;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((slot) => slot.worker?.terminate()));
  }

  #start(slot: Slot): void {
    const workerId = ++this.#workerSeq;
    const options: HostOptions = {...this.#options.host, slot: slot.index, workerId};
    const worker = new Worker(this.#options.entry ?? defaultEntry, {
      workerData: {kind: 'actor-host', options},
      resourceLimits: this.#options.resourceLimits,
    });
    const api = wrap<ActorHostApi>(nodeEndpoint(worker));
    const {port1, port2} = new MessageChannel();
    const port = port1 as DataPort<HostMessage, ResultsMessage>;
    port.on('message', (message) => this.#events.results(message));
    slot.worker = worker;
    slot.api = api;
    slot.port = port;
    slot.startedAt = Date.now();
    void api.connect(transfer(port2, [port2 as unknown as Transferable])).catch(() => {});
    worker.on('error', (error) => this.#options.log.error({err: error, thread: slot.index}, 'actor thread crashed'));
    worker.once('exit', (code) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.api = undefined;
      slot.port = undefined;
      port1.close();
      if (this.#closed) return;
      this.#failed(slot, code);
    });
  }

  #failed(slot: Slot, code: number): void {
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived < stableAfterMs ? slot.failures + 1 : 1;
    slot.outbox = emptyOutbox();
    this.#events.slotFailed(slot.index);
    const delay = slot.failures <= 1 ? 0 : Math.min(maxBackoffMs, 100 * 2 ** (slot.failures - 2));
    const log = this.#options.log;
    (slot.failures > 2 ? log.error.bind(log) : log.warn.bind(log))(
      {thread: slot.index, exitCode: code, failures: slot.failures, restartInMs: delay},
      'actor thread exited; restarting',
    );
    this.#restarts++;
    const timer = setTimeout(() => {
      if (!this.#closed) this.#start(slot);
    }, delay);
    timer.unref();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const slot of this.#slots) {
      const box = slot.outbox;
      if (box.parts.length === 0 && box.withdrawals.size === 0) continue;
      const port = slot.port;
      if (!port) {
        // Down (restarting with backoff): what was just placed on it cannot be served.
        const lost = box.parts.length > 0;
        clearOutbox(box);
        if (lost) this.#events.slotFailed(slot.index);
        continue;
      }
      // Dispatch first: a part withdrawn in the same turn it was sent must be in its mailbox by then.
      if (box.parts.length > 0) {
        const data = new Float64Array(box.floats);
        for (let i = 0; i < box.parts.length; i++) data.set(box.vectors[i], box.parts[i].offset);
        port.postMessage({kind: 'dispatch', keys: box.keys, parts: box.parts, data}, [data.buffer]);
      }
      if (box.withdrawals.size > 0) {
        const withdrawals = [...box.withdrawals].map(([key, partIds]) => ({key, partIds}));
        port.postMessage({kind: 'withdraw', withdrawals});
      }
      // postMessage has copied everything: the outbox is reused, not reallocated, every turn.
      clearOutbox(box);
    }
  }
}

function clearOutbox(box: Outbox): void {
  box.keys.length = 0;
  box.keyIndex.clear();
  box.parts.length = 0;
  box.vectors.length = 0;
  box.floats = 0;
  box.withdrawals.clear();
}
