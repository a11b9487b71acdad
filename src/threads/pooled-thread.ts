// One actor thread of the pool as the main thread holds it: the Worker of its current instance,
// that instance's comlink API and data port, and what the pool counts about it. start() spawns an
// instance (a Worker running workers/actor-thread.ts), hands it its data port, and says when it is
// up (it took the port) and when it exited; the pool decides what follows (ready, restart).

import {MessageChannel, Worker} from 'node:worker_threads';
import type {Transferable} from 'node:worker_threads';
import type {Logger} from 'pino';
import {nodeEndpoint, transfer, wrap} from '../comlink.ts';
import type {Remote} from '../comlink.ts';
import type {ActorThreadApi, DataPort, ResultsMessage, ThreadMessage, ThreadOptions} from '../protocol/messages.ts';
import {DispatchBuffer} from '../protocol/outbox.ts';

export interface PooledThread {
  readonly index: number;
  worker: Worker | undefined;
  api: Remote<ActorThreadApi> | undefined;
  port: DataPort<ThreadMessage, ResultsMessage> | undefined;
  /** This instance has answered (taken its data port): stats are asked of it. */
  up: boolean;
  /** Some instance of this thread has answered since the pool started. */
  everUp: boolean;
  /** What the instance threw, if it did (for the start-up error). */
  error: unknown;
  startedAt: number;
  /** Exits in a row of instances that did not live long (restart-policy.ts). */
  failures: number;
  /** What this turn sends it (coalesced per turn). */
  readonly buffer: DispatchBuffer;
}

export function pooledThread(index: number): PooledThread {
  return {
    index,
    worker: undefined,
    api: undefined,
    port: undefined,
    up: false,
    everUp: false,
    error: undefined,
    startedAt: 0,
    failures: 0,
    buffer: new DispatchBuffer(),
  };
}

/** What the pool hears of one instance. */
export interface InstanceEvents {
  results(message: ResultsMessage): void;
  /** It took its data port: it serves from now on. */
  up(): void;
  /** It is gone (its record already cleared); `code` is its exit code. */
  exited(code: number): void;
}

export interface InstanceSpawn {
  readonly entry: URL;
  readonly options: ThreadOptions;
  readonly resourceLimits?: {maxOldGenerationSizeMb?: number};
  readonly log: Logger;
}

/** Starts a new instance of `thread`, which from now on holds its Worker, API and data port. */
export function startInstance(thread: PooledThread, spawn: InstanceSpawn, events: InstanceEvents): void {
  const {log, options} = spawn;
  const worker = new Worker(spawn.entry, {
    workerData: {kind: 'actor-thread', options},
    resourceLimits: spawn.resourceLimits,
  });
  const api = wrap<ActorThreadApi>(nodeEndpoint(worker));
  const {port1, port2} = new MessageChannel();
  const port = port1 as DataPort<ThreadMessage, ResultsMessage>;
  port.on('message', (message) => events.results(message));
  thread.worker = worker;
  thread.api = api;
  thread.port = port;
  thread.up = false;
  thread.error = undefined;
  thread.startedAt = Date.now();
  api.connect(transfer(port2, [port2 as unknown as Transferable])).then(
    () => {
      if (thread.worker !== worker) return;
      thread.up = true;
      log.debug(
        {thread: thread.index, instance: options.instance, ms: Date.now() - thread.startedAt},
        'actor thread up',
      );
      events.up();
    },
    (error: unknown) => {
      // A thread that cannot take its data port can serve nothing: end it, and the exit restarts it.
      if (thread.worker !== worker) return;
      log.error({err: error, thread: thread.index}, 'actor thread did not take its data port; restarting it');
      void worker.terminate();
    },
  );
  worker.on('error', (error) => {
    thread.error = error;
    log.error({err: error, thread: thread.index}, 'actor thread crashed');
  });
  worker.once('exit', (code) => {
    if (thread.worker !== worker) return;
    thread.worker = undefined;
    thread.api = undefined;
    thread.port = undefined;
    thread.up = false;
    port1.close();
    events.exited(code);
  });
}

/**
 * Stops the current instance and resolves when it has exited. The thread is asked (a stop
 * message): it finishes its backend calls under way, releases its ONNX sessions and exits from
 * its own event loop. It is not terminated from here: terminate() lands at any instruction, and
 * inside ONNX Runtime's synchronous run (or session load) the addon's error on the way out cannot
 * be thrown into a stopping thread and aborts the whole process (`terminate called after
 * throwing an instance of 'Napi::Error'`). terminate() is only the fallback for a thread that has
 * not exited after `timeoutMs` (stuck in JavaScript, or never took its port).
 */
export async function stopInstance(thread: PooledThread, timeoutMs: number): Promise<void> {
  const worker = thread.worker;
  if (!worker) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // Queued on the channel until the instance has taken its data port, if it has not yet.
  thread.port?.postMessage({kind: 'stop'});
  const fallback = setTimeout(() => void worker.terminate(), timeoutMs);
  await exited;
  clearTimeout(fallback);
}
