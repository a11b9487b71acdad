// One process serving /predict, composed: the actors (this process's thread pool, or a gateway's
// transport to actor hosts over NATS), the coordinator, the metrics, the Koa app and its HTTP
// server; with start (ready once the actors are), SIGHUP's registry reload and the graceful drain.
// main.ts wires it to the process; tests start it in-process on port 0.

import {once} from 'node:events';
import {readFileSync} from 'node:fs';
import type {AddressInfo} from 'node:net';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import {Coordinator} from '../coordinator/coordinator.ts';
import type {TransportEvents} from '../coordinator/transport.ts';
import {createApp} from '../http/app.ts';
import type {Readiness} from '../http/gate.ts';
import {Metrics} from '../metrics/metrics.ts';
import {checkModels} from '../onnx-models.ts';
import {giveUp, raceTimeout} from '../race-timeout.ts';
import {redactUrl} from '../redact.ts';
import {loadRegistry} from '../registry.ts';
import type {Registry} from '../registry.ts';
import {RegistryReloads} from '../registry-reloads.ts';
import {ActorPool} from '../threads/pool.ts';
import {poolOptions} from '../threads/pool-options.ts';
import type {ActorSide} from './actor-side.ts';
import {AnswerServer, listeningLine} from './http-server.ts';
import {modelsOpen} from './models-open.ts';

/** An HTTP backend's latency assumed before a key's first call is measured (for Retry-After). */
const httpExpectedLatencyMs = 1000;
/** How long the drain waits for answers just resolved to be written before closing sockets. */
const writeGraceMs = 1000;
/** Scrape-time stats from the threads: a busy thread still answers well within this. */
const statsTimeoutMs = 1000;

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string})
  .version;

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
  /** The HTTP server, already listening (main.ts binds the port before loading the rest). */
  readonly http?: AnswerServer;
}

export class Service {
  readonly config: Config;
  readonly actors: ActorSide;
  readonly coordinator: Coordinator;
  readonly metrics: Metrics;
  readonly #http: AnswerServer;
  /** The actors' threads when they are in this process (ROLE=all). */
  readonly #pool: ActorPool | undefined;
  readonly #log: Logger;
  #readiness: Readiness = 'starting';
  /** Resolved when the service stops starting (ready, or draining first): held requests go on. */
  readonly #started = Promise.withResolvers<void>();
  #registry: Registry;
  readonly #reloads: RegistryReloads;
  #closing: Promise<void> | undefined;

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
    this.#pool = options.actors
      ? undefined
      : (options.pool ?? new ActorPool(poolOptions(config, this.#registry, log, {entry: options.workerEntry}), events));
    this.actors = options.actors ? options.actors(events) : (this.#pool as ActorPool);
    this.metrics = new Metrics(
      {
        // A gateway's actor hosts report their own mailboxes; it knows only what it sent.
        threadStats: async () => (this.#pool ? this.#pool.stats(statsTimeoutMs) : []),
        restarts: () => this.#pool?.restarts ?? 0,
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
    this.#http = options.http ?? new AnswerServer(undefined, config.maxConnections);
    this.#http.serve(app.callback());
  }

  get server(): AnswerServer['server'] {
    return this.#http.server;
  }

  /** The in-process thread pool (ROLE=all), for tests and supervision. */
  get pool(): ActorPool {
    if (!this.#pool) throw new Error('the actors are not in this process');
    return this.#pool;
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
    await this.#modelsOpen(next);
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
    const bound = this.server.listening;
    const address = await this.#http.listen(port, host);
    if (!bound) listeningLine(this.#log, address);
    await this.#checkModels();
    await this.actors.ready();
    if (this.#readiness !== 'starting') return address; // drained while starting
    this.#readiness = 'ready';
    this.#started.resolve();
    this.#log.info(
      {
        address: `${address.address}:${address.port}`,
        pid: process.pid,
        // Since the process started: module loading included (README, "Start-up").
        readyMs: Math.round(performance.now()),
        threads: this.#pool?.threads ?? 0,
        backend: this.config.backend.kind === 'http' ? redactUrl(this.config.backend.url) : 'simulated',
        batching: this.config.batching,
        models: this.#registry.models ? [...this.#registry.models.keys()] : 'any',
      },
      'ready',
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
      await this.#modelsOpen(checked);
    } catch (error) {
      this.server.close();
      await this.actors.close();
      throw error;
    }
  }

  /**
   * The threads of this process take the registry and open its onnx models (models-open.ts). Each
   * actor host of a gateway reads MODELS_FILE and opens its models itself, before it joins.
   */
  async #modelsOpen(registry: Registry): Promise<void> {
    if (!this.#pool) return;
    this.#pool.reconfigure(registry);
    await modelsOpen(this.#pool, registry, statsTimeoutMs, this.#log);
  }

  /**
   * Graceful drain: not ready, no new connections, mailboxes cut their batches at once, in-flight batches
   * get until SHUTDOWN_TIMEOUT_MS, then every open request is answered (`shutting_down` for
   * agents without an outcome) and the threads stop.
   */
  shutdown(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
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
    await this.#http.written(writeGraceMs);
    this.server.closeAllConnections();
    await closed;
    this.coordinator.close();
    await this.actors.close();
    this.#log.info('drained');
  }
}
