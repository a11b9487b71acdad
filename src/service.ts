// Composition: pool + coordinator + Koa app + HTTP server, with start and graceful drain.
// main.ts wires it to the process; tests start it in-process on port 0.

import type http from 'node:http';
import {readFileSync} from 'node:fs';
import type {AddressInfo} from 'node:net';
import {once} from 'node:events';
import type {Logger} from 'pino';
import type {Config} from './config.ts';
import type {Transport, TransportEvents} from './coordinator/transport.ts';
import type {HostStats} from './protocol/messages.ts';
import {giveUp, raceTimeout} from './race-timeout.ts';
import {redactUrl} from './redact.ts';
import {loadRegistry} from './registry.ts';
import {RegistryReloads} from './registry-reloads.ts';
import {checkModels} from './onnx-models.ts';
import {backendId} from '../workers/backend/create.ts';
import type {Registry} from './registry.ts';
import {ActorPool, poolOptions} from './threads/pool.ts';
import {Coordinator} from './coordinator/coordinator.ts';
import {createApp} from './http/app.ts';
import {Metrics} from './metrics.ts';
import type {Readiness} from './http/gate.ts';

/** A request's headers and body must arrive promptly; its answer may take the whole deadline. */
const headersTimeoutMs = 20_000;
const requestTimeoutMs = 60_000;
const keepAliveTimeoutMs = 5_000;
/** A deep accept queue: thousands of clients may connect at once (the kernel caps it at somaxconn). */
const listenBacklog = 4096;
/** An HTTP backend's latency assumed before a key's first call is measured (for Retry-After). */
const httpExpectedLatencyMs = 1000;
/** How long the drain waits for answers just resolved to be written before closing sockets. */
const writeGraceMs = 1000;
/** How long start and SIGHUP wait for the threads to open the onnx models (then they go on, with a warning). */
const sessionsOpenTimeoutMs = 60_000;
/** Scrape-time stats from the threads: a busy thread still answers well within this. */
const statsTimeoutMs = 1000;

// Not `import http from 'node:http'`: an ESM import of node:http reads every one of its exports,
// and its WebSocket getters load Node's bundled undici (about 50 ms of start-up, measured).
const {createServer} = process.getBuiltinModule('node:http');

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string})
  .version;

/** Where the actors are: the in-process thread pool (ROLE=all), or actor hosts over NATS (ROLE=gateway). */
export interface ActorSide extends Transport {
  /** Actor threads in this process (0 for a gateway: its actors are elsewhere). */
  readonly threads: number;
  /** Resolves once the actors can take parts (threads up, or some member announced). */
  ready(): Promise<void>;
  /** False while no actor thread is reachable (NATS down, no members): /readyz is 503. */
  available?(): boolean;
  /** Shutdown: cut waiting batches now (in-process threads). */
  drain(): void;
  close(): Promise<void>;
  stats(timeoutMs?: number): Promise<readonly HostStats[]>;
  readonly restarts: number;
  reconfigure(registry: Registry): void;
  /** Actor hosts over NATS: frames refused so far, by reason. */
  readonly refusals?: ReadonlyMap<string, number>;
}

export interface ServiceOptions {
  /** Worker entry for the actor threads (tests may use a fixture). */
  readonly workerEntry?: URL;
  /** The actors elsewhere (ROLE=gateway); default: this process's thread pool. */
  readonly actors?: (events: TransportEvents) => ActorSide;
  /** The model registry, when the caller has loaded it already (default: loaded here). */
  readonly registry?: Registry;
  /**
   * This process's thread pool, started earlier (main.ts starts it before loading the HTTP
   * stack, so that both load at once); built with poolOptions() from the same config and registry.
   */
  readonly pool?: ActorPool;
}

export class Service {
  readonly config: Config;
  readonly actors: ActorSide;
  readonly coordinator: Coordinator;
  readonly server: http.Server;
  readonly metrics: Metrics;
  readonly #log: Logger;
  #readiness: Readiness = 'starting';
  /** Resolved when the service stops starting (ready, or draining first): held requests go on. */
  readonly #started = Promise.withResolvers<void>();
  #registry: Registry;
  readonly #reloads: RegistryReloads;
  #activeRequests = 0;
  #closing: Promise<void> | undefined;

  readonly #written: (() => void)[] = [];

  constructor(config: Config, log: Logger, options: ServiceOptions = {}) {
    this.config = config;
    this.#log = log;
    // Throws RegistryError for a bad MODELS_FILE: the entry point stops with its message.
    this.#registry = options.registry ?? loadRegistry(config);
    this.#reloads = new RegistryReloads(config, log, (next) => this.#applyRegistry(next));
    // The global backend is simulated or HTTP (onnx is only ever a registry entry's).
    const expectedLatencyMs =
      config.backend.kind === 'simulated'
        ? (config.backend.latencyMinMs + config.backend.latencyMaxMs) / 2
        : Math.min(
            httpExpectedLatencyMs,
            config.backend.kind === 'http' ? config.backend.timeoutMs : httpExpectedLatencyMs,
          );
    let coordinator: Coordinator | undefined;
    const events: TransportEvents = {
      results: (message, thread) => coordinator?.onResults(message, thread),
      threadFailed: (thread) => coordinator?.onThreadFailed(thread),
      threadLeaving: (thread) => coordinator?.onThreadLeaving(thread),
      threadJoined: () => coordinator?.onThreadJoined(),
    };
    if (options.pool) options.pool.attach(events);
    this.actors = options.actors
      ? options.actors(events)
      : (options.pool ?? new ActorPool(poolOptions(config, this.#registry, log, options.workerEntry), events));
    this.metrics = new Metrics(
      {
        hostStats: () => this.actors.stats(statsTimeoutMs),
        restarts: () => this.actors.restarts,
        openRequests: () => this.coordinator.stats.openRequests,
        ...(this.actors.refusals && {clusterRefusals: () => this.actors.refusals ?? new Map()}),
      },
      {maxBatchSize: config.batching.maxBatchSize, maxKeys: config.metricsMaxKeys},
    );
    coordinator = new Coordinator(
      this.actors,
      {
        batching: config.batching,
        maxMailboxes: config.maxMailboxes,
        maxPendingPerMailbox: config.maxPendingPerMailbox,
        maxPendingTotal: config.maxPendingTotal,
        expectedLatencyMs,
        observer: this.metrics,
      },
      log.child({component: 'coordinator'}),
    );
    this.coordinator = coordinator;
    const app = createApp({
      config,
      coordinator,
      log,
      metrics: this.metrics,
      version,
      readiness: () => this.readiness,
      started: () => this.#started.promise,
      registry: () => this.#registry,
    });
    this.server = createServer(app.callback());
    this.server.headersTimeout = headersTimeoutMs;
    this.server.requestTimeout = requestTimeoutMs;
    this.server.keepAliveTimeout = keepAliveTimeoutMs;
    // Past this many open connections new ones are closed at once: memory per connection is bounded.
    this.server.maxConnections = config.maxConnections;
    this.server.on('request', (_req, res) => {
      this.#activeRequests++;
      res.once('close', () => {
        if (--this.#activeRequests === 0) for (const wake of this.#written.splice(0)) wake();
      });
    });
  }

  /** The in-process thread pool (ROLE=all), for tests and supervision. */
  get pool(): ActorPool {
    if (!(this.actors instanceof ActorPool)) throw new Error('the actors are not in this process');
    return this.actors;
  }

  get registry(): Registry {
    return this.#registry;
  }

  /**
   * SIGHUP: re-reads MODELS_FILE and checks its onnx models (src/onnx-models.ts). A valid file
   * applies to new batches (nothing in flight is dropped; an onnx model whose file changed gets a
   * new session, and batches in flight finish on the old one); an invalid file or a refused model
   * is refused with an error line and the old registry stays.
   */
  reloadRegistry(): Promise<boolean> {
    return this.#reloads.reload();
  }

  /** A reloaded registry, checked: the threads take it, and open its onnx models before it counts as done. */
  async #applyRegistry(next: Registry): Promise<void> {
    this.#registry = next;
    this.actors.reconfigure(next);
    await this.#sessionsOpen(next);
  }

  /** Ready, unless no actor thread is reachable (a gateway without NATS or members). */
  get readiness(): Readiness {
    if (this.#readiness === 'ready' && this.actors.available?.() === false) return 'unavailable';
    return this.#readiness;
  }

  /**
   * Listens at once (/healthz answers, /readyz says 503 starting, a /predict is held until the
   * threads are up or its deadline passes), then waits for every actor thread to answer, however
   * long that takes, before turning ready; resolves with the bound address. Rejects when the
   * port cannot be had, or a thread dies before it ever answered.
   */
  async start(port = this.config.port, host = this.config.host): Promise<AddressInfo> {
    this.server.listen({port, host, backlog: listenBacklog});
    await once(this.server, 'listening');
    await this.#checkModels();
    await this.actors.ready();
    const address = this.server.address() as AddressInfo;
    if (this.#readiness !== 'starting') return address; // drained while starting
    this.#readiness = 'ready';
    this.#started.resolve();
    this.#log.info(
      {
        address: `${address.address}:${address.port}`,
        // Since the process started: module loading included (README, "Start-up").
        readyMs: Math.round(performance.now()),
        threads: this.actors.threads,
        backend: this.config.backend.kind === 'http' ? redactUrl(this.config.backend.url) : 'simulated',
        batching: this.config.batching,
        models: this.#registry.models ? [...this.#registry.models.keys()] : 'any',
      },
      'listening',
    );
    return address;
  }

  /**
   * Before turning ready, every onnx model of the registry is opened and checked (not by this
   * thread); the threads get the checked registry and open their sessions. A refused model stops
   * the start (the entry point exits with its message), after closing what was started.
   */
  async #checkModels(): Promise<void> {
    try {
      const checked = await checkModels(this.#registry);
      if (checked === this.#registry) return;
      this.#registry = checked;
      this.actors.reconfigure(checked);
      await this.#sessionsOpen(checked);
    } catch (error) {
      this.server.close();
      await this.actors.close();
      throw error;
    }
  }

  /**
   * Resolves once every actor thread has opened every onnx model of `registry` (each thread serves
   * the file as it was checked, and no request pays for opening it), or after a bound.
   */
  async #sessionsOpen(registry: Registry): Promise<void> {
    const wanted = [...(registry.models?.values() ?? [])]
      .filter((m) => m.backend.kind === 'onnx')
      .map((m) => backendId(m.backend));
    // A gateway's actors are other processes: each actor host opens its models before it joins.
    if (wanted.length === 0 || !(this.actors instanceof ActorPool)) return;
    const until = Date.now() + sessionsOpenTimeoutMs;
    while (Date.now() < until) {
      const hosts = await this.actors.stats(statsTimeoutMs).catch(() => []);
      if (hosts.length > 0 && hosts.every((h) => wanted.every((id) => h.warmed?.includes(id)))) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.#log.warn({models: wanted}, 'actor threads are still opening onnx models; going on');
  }

  /**
   * Graceful drain: not ready, no new connections, mailboxes flush at once, in-flight batches
   * get until SHUTDOWN_TIMEOUT_MS, then every open request is answered (`shutting_down` for
   * agents without an outcome) and the threads stop.
   */
  shutdown(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  /** Resolves when no response is being written, or after `limitMs`. */
  async #responsesWritten(limitMs: number): Promise<void> {
    if (this.#activeRequests === 0) return;
    const written = new Promise<void>((resolve) => this.#written.push(resolve));
    await raceTimeout(written, limitMs, giveUp);
  }

  async #drain(): Promise<void> {
    this.#readiness = 'draining';
    this.#started.resolve();
    this.#log.info({openRequests: this.coordinator.stats.openRequests}, 'draining');
    const closed = this.server.listening ? once(this.server, 'close') : Promise.resolve();
    this.server.close();
    this.actors.drain();
    await raceTimeout(this.coordinator.idle(), this.config.shutdownTimeoutMs, giveUp);
    this.coordinator.abortAll('shutting_down', 'the service is shutting down');
    // Let the answers just resolved be written before the sockets go.
    await this.#responsesWritten(writeGraceMs);
    this.server.closeAllConnections();
    await closed;
    this.coordinator.close();
    await this.actors.close();
    this.#log.info('drained');
  }
}
