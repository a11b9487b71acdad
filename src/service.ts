// Composition: pool + coordinator + Koa app + HTTP server, with start and graceful drain.
// main.ts wires it to the process; tests start it in-process on port 0.

import http from 'node:http';
import {readFileSync} from 'node:fs';
import type {AddressInfo} from 'node:net';
import {once} from 'node:events';
import type {Logger} from 'pino';
import type {Config} from './config.ts';
import {ActorPool} from './coordinator/pool.ts';
import {Coordinator} from './coordinator/coordinator.ts';
import {createApp} from './http/app.ts';
import {Metrics} from './metrics.ts';
import type {Readiness} from './http/app.ts';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string}).version;

export interface ServiceOptions {
  /** Worker entry for the actor threads (tests may use a fixture). */
  readonly workerEntry?: URL;
}

export class Service {
  readonly config: Config;
  readonly pool: ActorPool;
  readonly coordinator: Coordinator;
  readonly server: http.Server;
  readonly metrics: Metrics;
  readonly #log: Logger;
  #readiness: Readiness = 'starting';
  #activeRequests = 0;
  #closing: Promise<void> | undefined;

  constructor(config: Config, log: Logger, options: ServiceOptions = {}) {
    this.config = config;
    this.#log = log;
    const expectedLatencyMs =
      config.backend.kind === 'simulated'
        ? (config.backend.latencyMinMs + config.backend.latencyMaxMs) / 2
        : Math.min(1000, config.backend.timeoutMs);
    let coordinator: Coordinator | undefined;
    this.pool = new ActorPool(
      {
        size: config.poolSize,
        host: {batching: config.batching, backend: config.backend, logLevel: config.logLevel},
        log: log.child({component: 'pool'}),
        entry: options.workerEntry,
        // A runaway thread dies alone (and is restarted) instead of taking the process down.
        resourceLimits: {maxOldGenerationSizeMb: 1024},
      },
      {
        results: (message) => coordinator?.onResults(message),
        slotFailed: (slot) => coordinator?.onSlotFailed(slot),
      },
    );
    this.metrics = new Metrics(
      {
        hostStats: () => this.pool.stats(1000),
        restarts: () => this.pool.restarts,
        openRequests: () => this.coordinator.stats.openRequests,
      },
      {maxBatchSize: config.batching.maxBatchSize},
    );
    coordinator = new Coordinator(
      this.pool,
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
      readiness: () => this.#readiness,
    });
    this.server = http.createServer(app.callback());
    // A request body must arrive promptly; the response may take the whole request deadline.
    this.server.headersTimeout = 20_000;
    this.server.requestTimeout = 60_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.on('request', (_req, res) => {
      this.#activeRequests++;
      res.once('close', () => this.#activeRequests--);
    });
  }

  get readiness(): Readiness {
    return this.#readiness;
  }

  /**
   * Listens at once (/healthz answers, /readyz and /predict say 503 not_ready), then waits for
   * every actor thread to answer before turning ready; resolves with the bound address.
   */
  async start(port = this.config.port, host = this.config.host): Promise<AddressInfo> {
    // A deep accept queue: thousands of clients may connect at once (the kernel caps it at somaxconn).
    this.server.listen({port, host, backlog: 4096});
    await once(this.server, 'listening');
    await this.pool.ready();
    if (this.#readiness === 'starting') this.#readiness = 'ready';
    const address = this.server.address() as AddressInfo;
    this.#log.info(
      {
        address: `${address.address}:${address.port}`,
        threads: this.pool.size,
        backend: this.config.backend.kind === 'http' ? this.config.backend.url : 'simulated',
        batching: this.config.batching,
      },
      'listening',
    );
    return address;
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

  async #drain(): Promise<void> {
    this.#readiness = 'draining';
    this.#log.info({openRequests: this.coordinator.stats.openRequests}, 'draining');
    const closed = this.server.listening ? once(this.server, 'close') : Promise.resolve();
    this.server.close();
    this.pool.drain();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.shutdownTimeoutMs);
    });
    await Promise.race([this.coordinator.idle(), limit]);
    clearTimeout(timer);
    this.coordinator.abortAll('shutting_down', 'the service is shutting down');
    // Let the answers just resolved be written before the sockets go.
    for (let i = 0; i < 200 && this.#activeRequests > 0; i++) await new Promise((r) => setTimeout(r, 5));
    this.server.closeAllConnections();
    await closed;
    this.coordinator.close();
    await this.pool.close();
    this.#log.info('drained');
  }
}
