// What an actor pool is started with: how many threads, what each gets (the registry, the log
// level, a batch-id prefix on an actor host), its worker entry, and each thread's own heap limit.

import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import {effectiveCpus} from '../cpus.ts';
import type {ThreadOptions} from '../protocol/messages.ts';
import type {Registry} from '../registry.ts';

export interface PoolOptions {
  readonly size: number;
  /** What every thread is started with, beside its index and instance. */
  readonly threadOptions: Omit<ThreadOptions, 'thread' | 'instance'>;
  readonly log: Logger;
  /** The worker entry; tests may point it at a fixture. */
  readonly entry?: URL;
  /** Per-thread heap limits, so one runaway thread dies alone. */
  readonly resourceLimits?: {maxOldGenerationSizeMb?: number};
  /** Threads loading at the same time (default: all): the rest start as these answer. */
  readonly startAtOnce?: number;
}

/** Each actor thread's heap: a runaway thread dies alone (and is restarted) instead of the process. */
const threadHeapMb = 1024;

/**
 * The pool of a process serving the actors (ROLE=all, or an actor host with its `batchPrefix`):
 * ACTOR_POOL_SIZE threads with the registry, each under its own heap limit.
 */
export function poolOptions(
  config: Config,
  registry: Registry,
  log: Logger,
  {entry, batchPrefix}: {entry?: URL; batchPrefix?: string} = {},
): PoolOptions {
  return {
    size: config.poolSize,
    threadOptions: {registry, logLevel: config.logLevel, ...(batchPrefix !== undefined && {batchPrefix})},
    log: log.child({component: 'pool'}),
    entry,
    resourceLimits: {maxOldGenerationSizeMb: threadHeapMb},
    // Twice the CPUs loading at once (the default pool, one per CPU but one, starts all at once):
    // a big pool leaves the main thread its share. Measured with 32 threads on 2 loaded cores:
    // /healthz after 0.8-2.5 s instead of with ready (3-6.5 s); ready after 3-10 s (noisy).
    startAtOnce: 2 * effectiveCpus(),
  };
}
