// The actor threads: ACTOR_POOL_SIZE worker threads, each hosting the actors of the keys placed
// on it. It is the coordinator's Transport in one process. Everything sent to a thread in one
// event-loop turn leaves as one DispatchMessage: its parts and vectors in two transferred Float64Arrays
// (src/protocol/outbox.ts). comlink carries each host's API (connect, stats); the data plane is a
// MessageChannel of its own (src/protocol/messages.ts says why).
//
// A thread that exits is restarted (with backoff if it keeps dying) and reported, so that the
// coordinator can fail every part it held with `worker_failed`. Each start is a new *instance*
// (a number unique in the process), which keeps batch ids unique across restarts.

import {MessageChannel, Worker} from 'node:worker_threads';
import type {Transferable} from 'node:worker_threads';
import {nodeEndpoint, transfer, wrap} from '../comlink.ts';
import type {Remote} from '../comlink.ts';
import type {Logger} from 'pino';
import type {Transport, TransportEvents} from '../coordinator/transport.ts';
import {DispatchBuffer, Outbox} from '../protocol/outbox.ts';
import type {Registry} from '../registry.ts';
import type {ActorHostApi, DataPort, HostMessage, HostOptions, HostStats, ResultsMessage} from '../protocol/messages.ts';

export interface PoolOptions {
  readonly size: number;
  readonly host: Omit<HostOptions, 'thread' | 'instance'>;
  readonly log: Logger;
  /** The worker entry; tests may point it at a fixture. */
  readonly entry?: URL;
  /** Per-thread heap limits, so one runaway thread dies alone. */
  readonly resourceLimits?: {maxOldGenerationSizeMb?: number};
}

interface ActorThread {
  readonly index: number;
  worker: Worker | undefined;
  api: Remote<ActorHostApi> | undefined;
  port: DataPort<HostMessage, ResultsMessage> | undefined;
  startedAt: number;
  failures: number;
  readonly buffer: DispatchBuffer;
}

const defaultEntry = new URL('../../workers/actor-host.ts', import.meta.url);
/** A thread that lived less than this before dying counts as crash-looping. */
const stableAfterMs = 5000;
const maxBackoffMs = 30_000;
const emptyStats: HostStats = {actors: 0, pending: 0, inflight: 0, keys: []};

export class ActorPool implements Transport {
  readonly #options: PoolOptions;
  readonly #events: TransportEvents;
  readonly #threads: ActorThread[];
  readonly #outbox = new Outbox(() => this.#flush());
  /** What every (re)started thread gets: the registry changes on SIGHUP. */
  #host: Omit<HostOptions, 'thread' | 'instance'>;
  #instanceSeq = 0;
  #closed = false;
  #restarts = 0;

  constructor(options: PoolOptions, events: TransportEvents) {
    this.#options = options;
    this.#host = options.host;
    this.#events = events;
    this.#threads = Array.from({length: options.size}, (_, index) => ({
      index,
      worker: undefined,
      api: undefined,
      port: undefined,
      startedAt: 0,
      failures: 0,
      buffer: new DispatchBuffer(),
    }));
    for (const thread of this.#threads) this.#start(thread);
  }

  get threads(): number {
    return this.#threads.length;
  }

  /** Threads restarted since the pool started. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Resolves once every thread has answered once (it is up and its actor host exposed). */
  async ready(): Promise<void> {
    await this.stats();
  }

  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>): void {
    this.#threads[thread].buffer.add(key, partId, deadline, vector);
    this.#outbox.schedule();
  }

  withdraw(thread: number, key: string, partId: number): void {
    this.#threads[thread].buffer.withdraw(key, partId);
    this.#outbox.schedule();
  }

  /** A new model registry for every thread, and for every thread started from now on. */
  reconfigure(registry: Registry): void {
    this.#host = {...this.#host, registry};
    for (const thread of this.#threads) thread.port?.postMessage({kind: 'registry', registry});
  }

  /** Shutdown: every mailbox cuts its waiting rows at once. */
  drain(): void {
    this.#outbox.flushNow();
    for (const thread of this.#threads) thread.port?.postMessage({kind: 'drain'});
  }

  async stats(timeoutMs = 5000): Promise<HostStats[]> {
    return Promise.all(
      this.#threads.map((thread) => {
        if (!thread.api) return emptyStats;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`thread ${thread.index} did not answer`)), timeoutMs);
        });
        return Promise.race([thread.api.stats(), timeout]).finally(() => clearTimeout(timer));
      }),
    );
  }

  /** The Worker running a thread now, for tests and supervision. */
  workerOf(thread: number): Worker | undefined {
    return this.#threads[thread].worker;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.map((thread) => thread.worker?.terminate()));
  }

  #start(thread: ActorThread): void {
    const log = this.#options.log;
    const options: HostOptions = {...this.#host, thread: thread.index, instance: ++this.#instanceSeq};
    const worker = new Worker(this.#options.entry ?? defaultEntry, {
      workerData: {kind: 'actor-host', options},
      resourceLimits: this.#options.resourceLimits,
    });
    const api = wrap<ActorHostApi>(nodeEndpoint(worker));
    const {port1, port2} = new MessageChannel();
    const port = port1 as DataPort<HostMessage, ResultsMessage>;
    port.on('message', (message) => this.#events.results(message, thread.index));
    thread.worker = worker;
    thread.api = api;
    thread.port = port;
    thread.startedAt = Date.now();
    api.connect(transfer(port2, [port2 as unknown as Transferable])).catch((error: unknown) => {
      // A thread that cannot take its data port can serve nothing: end it, and the exit restarts it.
      if (thread.worker !== worker) return;
      log.error({err: error, thread: thread.index}, 'actor thread did not take its data port; restarting it');
      void worker.terminate();
    });
    worker.on('error', (error) => log.error({err: error, thread: thread.index}, 'actor thread crashed'));
    worker.once('exit', (code) => {
      if (thread.worker !== worker) return;
      thread.worker = undefined;
      thread.api = undefined;
      thread.port = undefined;
      port1.close();
      if (this.#closed) return;
      this.#failed(thread, code);
    });
  }

  #failed(thread: ActorThread, code: number): void {
    const lived = Date.now() - thread.startedAt;
    thread.failures = lived < stableAfterMs ? thread.failures + 1 : 1;
    thread.buffer.clear();
    this.#events.threadFailed(thread.index);
    const delay = thread.failures <= 1 ? 0 : Math.min(maxBackoffMs, 100 * 2 ** (thread.failures - 2));
    const fields = {thread: thread.index, exitCode: code, failures: thread.failures, restartInMs: delay};
    if (thread.failures > 2) this.#options.log.error(fields, 'actor thread exited; restarting');
    else this.#options.log.warn(fields, 'actor thread exited; restarting');
    this.#restarts++;
    const timer = setTimeout(() => {
      if (!this.#closed) this.#start(thread);
    }, delay);
    timer.unref();
  }

  #flush(): void {
    for (const thread of this.#threads) {
      const buffer = thread.buffer;
      if (buffer.isEmpty) continue;
      const port = thread.port;
      if (!port) {
        // Down (restarting with backoff): what was just placed on it cannot be served.
        const lost = buffer.hasParts;
        buffer.clear();
        if (lost) this.#events.threadFailed(thread.index);
        continue;
      }
      const dispatch = buffer.dispatch();
      if (dispatch) port.postMessage(dispatch, [dispatch.parts.buffer, dispatch.data.buffer]);
      const withdrawal = buffer.withdrawal();
      if (withdrawal) port.postMessage(withdrawal);
      buffer.clear();
    }
  }
}
