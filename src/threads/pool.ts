// The actor threads: ACTOR_POOL_SIZE worker threads, each hosting the actors of the keys placed
// on it (pooled-thread.ts: one of them). It is the coordinator's Transport in one process.
// Everything sent to a thread in one event-loop turn leaves as one DispatchMessage: its parts and
// vectors in two transferred Float64Arrays (src/protocol/outbox.ts). comlink carries each thread's
// API (connect, stats); the data plane is a MessageChannel of its own (src/protocol/messages.ts).
//
// A thread that exits is restarted (restart-policy.ts: with backoff if it keeps dying) and
// reported, so that the coordinator can fail every part it held with `worker_failed`. Each start
// is a new *instance* (a number unique in the process), which keeps batch ids unique across restarts.
//
// Start-up: the pool is ready once every thread has answered once (taken its data port). There
// is no time limit: a slow machine (32 threads on 2 loaded cores) keeps the service not ready for
// as long as its threads take, never ends it. A thread that dies before it ever answered (its
// module throws: a broken install) fails ready() with its error, once; the pool keeps restarting
// it with backoff as it would any thread. At most `startAtOnce` threads load at a time (twice the
// CPUs the process may use): a big pool on few cores leaves the main thread its share, so /healthz
// answers while the rest start.

import type {Worker} from 'node:worker_threads';
import {fewestKeys} from '../coordinator/placement.ts';
import type {Placement, Transport, TransportEvents} from '../coordinator/transport.ts';
import {Outbox} from '../protocol/outbox.ts';
import {raceTimeout} from '../race-timeout.ts';
import type {Registry} from '../registry.ts';
import type {PoolOptions} from './pool-options.ts';
import {pooledThread, startInstance, stopInstance} from './pooled-thread.ts';
import type {PooledThread} from './pooled-thread.ts';
import {failuresInARow, restartDelayMs} from './restart-policy.ts';
import type {ThreadOptions, ThreadStats} from '../protocol/messages.ts';

/** Raised by ready() when a thread dies before it ever answered. */
export class ThreadStartError extends Error {
  override name = 'ThreadStartError';
}

const defaultEntry = new URL('../../workers/actor-thread.ts', import.meta.url);
/** How long close() lets a thread finish its runs and exit before terminating it. */
const stopTimeoutMs = 10_000;
const emptyStats: ThreadStats = {actors: 0, pending: 0, inflight: 0, keys: []};

/** Where a pool started before its coordinator sends events: nothing arrives before the first part is sent. */
const noEvents: TransportEvents = {results: () => undefined, threadFailed: () => {}};

function hostsOnnx(registry: Registry): boolean {
  for (const model of registry.models?.values() ?? []) if (model.backend.kind === 'onnx') return true;
  return false;
}

export class ActorPool implements Transport {
  /** A new key goes to the thread hosting the fewest keys. */
  readonly placement: Placement;
  readonly #options: PoolOptions;
  #events: TransportEvents;
  readonly #threads: PooledThread[];
  readonly #ready = Promise.withResolvers<void>();
  /** Threads that have not answered yet since the pool started. */
  #starting: number;
  readonly #outbox = new Outbox(() => this.#flush());
  /** What every (re)started thread gets: the registry changes on SIGHUP. */
  #threadOptions: Omit<ThreadOptions, 'thread' | 'instance'>;
  #instanceSeq = 0;
  /** Threads not started yet: each starts when one before it answers. */
  readonly #unstarted: PooledThread[];
  #closed = false;
  #restarts = 0;
  /** Some registry the threads were given has an onnx model: they may hold ONNX sessions. */
  #onnx: boolean;

  /**
   * Starts the threads, `startAtOnce` at a time (default: all at once). `events` may come later (attach): a pool can start while the
   * rest of the process is still loading.
   */
  constructor(options: PoolOptions, events: TransportEvents = noEvents) {
    this.#options = options;
    this.placement = fewestKeys(options.size);
    this.#threadOptions = options.threadOptions;
    this.#onnx = hostsOnnx(options.threadOptions.registry);
    this.#events = events;
    this.#starting = options.size;
    // ready() may never be asked (a pool under test): its failure is not an unhandled rejection.
    this.#ready.promise.catch(() => {});
    this.#threads = Array.from({length: options.size}, (_, index) => pooledThread(index));
    const atOnce = Math.max(1, options.startAtOnce ?? options.size);
    this.#unstarted = this.#threads.slice(atOnce);
    for (const thread of this.#threads.slice(0, atOnce)) this.#start(thread);
  }

  #startNext(): void {
    const next = this.#unstarted.shift();
    if (next && !this.#closed) this.#start(next);
  }

  /** The coordinator's events, for a pool started before it. */
  attach(events: TransportEvents): void {
    this.#events = events;
  }

  get threads(): number {
    return this.#threads.length;
  }

  /** Threads restarted since the pool started. */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Resolves once every thread has answered once (it is up and has taken its data port), however
   * long that takes, or when the pool is closed first; rejects with a ThreadStartError when a
   * thread dies before it ever answered.
   */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>, client: number): void {
    this.#threads[thread].buffer.add(key, partId, deadline, vector, client);
    this.#outbox.schedule();
  }

  withdraw(thread: number, key: string, partId: number): void {
    this.#threads[thread].buffer.withdraw(key, partId);
    this.#outbox.schedule();
  }

  /**
   * A new model registry for every thread, and for every thread started from now on. Parts
   * admitted under the old registry are sent first, so that each thread sees them under it.
   */
  reconfigure(registry: Registry): void {
    this.#outbox.flushNow();
    this.#threadOptions = {...this.#threadOptions, registry};
    this.#onnx ||= hostsOnnx(registry);
    for (const thread of this.#threads) thread.port?.postMessage({kind: 'registry', registry});
  }

  /** Shutdown: every mailbox cuts its waiting rows at once. */
  drain(): void {
    this.#outbox.flushNow();
    for (const thread of this.#threads) thread.port?.postMessage({kind: 'drain'});
  }

  async stats(timeoutMs = 5000): Promise<ThreadStats[]> {
    return Promise.all(
      this.#threads.map((thread) => {
        // A thread still starting (or restarting) is not waited for: it counts as empty.
        if (!thread.api || !thread.up) return emptyStats;
        return raceTimeout(thread.api.stats(), timeoutMs, () => {
          throw new Error(`thread ${thread.index} did not answer`);
        });
      }),
    );
  }

  /** The Worker running a thread now, for tests and supervision. */
  workerOf(thread: number): Worker | undefined {
    return this.#threads[thread].worker;
  }

  /**
   * Stops every thread. Threads that may hold an ONNX session (a registry they were given has an
   * onnx model) are asked to stop and exit by themselves after their last run (pooled-thread.ts,
   * stopInstance); the others never enter native code and are terminated at once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ready.resolve();
    await Promise.all(
      this.#threads.map((thread) => (this.#onnx ? stopInstance(thread, stopTimeoutMs) : thread.worker?.terminate())),
    );
  }

  #start(thread: PooledThread): void {
    const options: ThreadOptions = {...this.#threadOptions, thread: thread.index, instance: ++this.#instanceSeq};
    const {entry = defaultEntry, resourceLimits, log} = this.#options;
    startInstance(
      thread,
      {entry, options, resourceLimits, log},
      {
        results: (message) => this.#events.results(message, thread.index),
        up: () => {
          if (thread.everUp) return;
          thread.everUp = true;
          this.#startNext();
          if (--this.#starting === 0) this.#ready.resolve();
        },
        exited: (code) => {
          if (this.#closed) return;
          if (!thread.everUp) {
            this.#startNext();
            const why =
              thread.error instanceof Error
                ? `${thread.error.name}: ${thread.error.message}`
                : `it exited with code ${code}`;
            this.#ready.reject(
              new ThreadStartError(`actor thread ${thread.index} could not start: ${why.split('\n')[0]}`),
            );
          }
          this.#failed(thread, code);
        },
      },
    );
  }

  #failed(thread: PooledThread, code: number): void {
    const lived = Date.now() - thread.startedAt;
    thread.failures = failuresInARow(thread.failures, lived);
    thread.buffer.clear();
    this.#events.threadFailed(thread.index);
    const delay = restartDelayMs(thread.failures);
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
