// Worker-thread entry: hosts the actors of every key placed on this thread.
//
//   main thread ── comlink: connect(port), stats() ──▶ ActorHost
//               ══ data port: HostMessage ══▶ ActorHost ──▶ Actor (one per key)
//               ◀═ data port: ResultsMessage ══ results of every actor, once per turn
//
// Config comes from workerData (never process.env). See src/protocol/messages.ts for why the data
// plane is a port of its own.

import {parentPort, workerData} from 'node:worker_threads';
import type {MessagePort} from 'node:worker_threads';
import {expose, nodeEndpoint} from '../src/comlink.ts';
import type {Logger} from 'pino';
import {createLogger} from '../src/log.ts';
import {parseKey} from '../src/protocol/mailbox-key.ts';
import type {
  ActorHostApi,
  DataPort,
  DispatchMessage,
  HostMessage,
  HostOptions,
  HostStats,
  ResultsMessage,
  WithdrawMessage,
} from '../src/protocol/messages.ts';
import {Actor} from './actor.ts';
import type {ActorContext, ActorSettings, Part} from './actor.ts';
import {BackendClients, backendId} from './backend/create.ts';
import {settingsOf} from '../src/registry.ts';
import type {Registry} from '../src/registry.ts';
import {WaitWindow} from './wait-window.ts';
import {CostBook} from './cost-model.ts';
import {Outbox, ResultsBuffer} from '../src/protocol/outbox.ts';
import type {ResultSink} from '../src/protocol/outbox.ts';
import {forEachPart} from '../src/protocol/messages.ts';
import {systemClock} from './clock.ts';
import type {Clock} from './clock.ts';

/** Adaptive windows kept per thread: keys beyond this start again from the initial window. */
const maxWindows = 4096;

export class ActorHost implements ActorHostApi {
  readonly #actors = new Map<string, Actor>();
  readonly #ctx: ActorContext;
  #port: DataPort<ResultsMessage, HostMessage> | undefined;
  readonly #results = new ResultsBuffer();
  readonly #outbox = new Outbox(() => {
    const message = this.#results.take();
    if (message) this.#port?.postMessage(message, [message.results.buffer]);
  });
  #draining = false;
  #batchSeq = 0;
  #registry: Registry;
  readonly #backends: BackendClients;
  /** Each key's adaptive window, kept across its actor's retirement (least recently used first). */
  readonly #windows = new Map<string, WaitWindow>();
  /** Backends (backendId) of the registry's onnx models whose session is open (or failed to open). */
  readonly #warmed = new Set<string>();
  /** Each key's fitted backend cost (DESIGN §11) per backend it has used, kept the same way. */
  readonly #costs = new CostBook(maxWindows);

  constructor(options: HostOptions, log: Logger, clock: Clock = systemClock, backends = new BackendClients()) {
    this.#registry = options.registry;
    const batchPrefix = options.batchPrefix ? `${options.batchPrefix}.` : '';
    this.#backends = backends;
    this.#ctx = {
      clock,
      log,
      nextBatchId: () => `b-${batchPrefix}${options.instance}-${++this.#batchSeq}`,
      results: this.#sink(),
      idle: (actor) => {
        // Retired when empty: nothing is lost, a key that comes back gets a fresh actor.
        if (this.#actors.get(actor.key) === actor) this.#actors.delete(actor.key);
      },
    };
    this.#warmModels();
  }

  /**
   * Opens every checked onnx model of the registry now, so that no request pays for loading one,
   * and so that the session serving after start or SIGHUP is the file that was checked (the
   * service waits for `warmed` before it turns ready or calls the reload done).
   */
  #warmModels(): void {
    const inUse = new Set<string>();
    for (const model of this.#registry.models?.values() ?? []) {
      if (model.backend.kind !== 'onnx' || !model.backend.signature) continue;
      const id = backendId(model.backend);
      inUse.add(id);
      void this.#backends
        .get(model.backend)
        .warm?.()
        .then(() => this.#warmed.add(id));
    }
    for (const id of this.#warmed) if (!inUse.has(id)) this.#warmed.delete(id);
  }

  /** The turn's results buffer, with a flush scheduled whenever something is put in it. */
  #sink(): ResultSink {
    const buffer = this.#results;
    const outbox = this.#outbox;
    return {
      prediction(partId, value, batch) {
        buffer.prediction(partId, value, batch);
        outbox.schedule();
      },
      error(partId, code, message, batch) {
        buffer.error(partId, code, message, batch);
        outbox.schedule();
      },
      withdrawn(partId) {
        buffer.withdrawn(partId);
        outbox.schedule();
      },
      report(report) {
        buffer.report(report);
        outbox.schedule();
      },
    };
  }

  connect(port: MessagePort | DataPort<ResultsMessage, HostMessage>): void {
    this.#port = port as DataPort<ResultsMessage, HostMessage>;
    this.#port.on('message', (message) => this.receive(message));
  }

  receive(message: HostMessage): void {
    switch (message.kind) {
      case 'dispatch':
        this.#dispatch(message);
        return;
      case 'withdraw':
        this.#withdraw(message);
        return;
      case 'drain':
        this.#draining = true;
        for (const actor of this.#actors.values()) actor.drain();
        return;
      case 'registry':
        this.#reload(message.registry);
        return;
    }
  }

  stats(): HostStats {
    let pending = 0;
    let inflight = 0;
    const keys = [];
    for (const actor of this.#actors.values()) {
      pending += actor.pending;
      inflight += actor.inflight;
      keys.push({key: actor.key, pending: actor.pending, inflight: actor.inflight});
    }
    return {actors: this.#actors.size, pending, inflight, keys, warmed: [...this.#warmed]};
  }

  #dispatch(message: DispatchMessage): void {
    const {keys} = message;
    const byKey: Part[][] = keys.map(() => []);
    const now = this.#ctx.clock.now();
    forEachPart(message, (partId, keyIndex, deadline, row) => byKey[keyIndex].push({partId, deadline, arrivedAt: now, row}));
    for (let i = 0; i < keys.length; i++) {
      if (byKey[i].length === 0) continue;
      let actor = this.#actors.get(keys[i]);
      if (!actor) {
        const name = parseKey(keys[i]);
        actor = new Actor(keys[i], name, this.#ctx, this.#settingsOf(keys[i], name.model));
        if (this.#draining) actor.drain();
        this.#actors.set(keys[i], actor);
      }
      actor.dispatch(byKey[i]);
    }
  }

  /** A key's backend client, batching and (with MAX_WAIT_MS=auto) window, from the registry. */
  #settingsOf(key: string, model: string): ActorSettings {
    const {backend, batching} = settingsOf(this.#registry, model);
    let window: WaitWindow | undefined;
    if (batching.maxWaitMs === 'auto') {
      window = this.#windows.get(key);
      if (window) this.#windows.delete(key);
      else window = new WaitWindow(batching.waitFraction);
      this.#windows.set(key, window);
      if (this.#windows.size > maxWindows) this.#windows.delete(this.#windows.keys().next().value as string);
    }
    // A key whose model moved to another backend (SIGHUP) starts a new fit: the old backend's cost says nothing of it.
    return {backend: this.#backends.get(backend), batching, window, cost: this.#costs.get(`${key}\n${backendId(backend)}`)};
  }

  /** New registry: live actors take their new settings for their next batches; unused clients close when idle. */
  #reload(registry: Registry): void {
    this.#registry = registry;
    for (const actor of this.#actors.values()) actor.reconfigure(this.#settingsOf(actor.key, parseKey(actor.key).model));
    const inUse = [registry.defaults.backend, ...[...(registry.models?.values() ?? [])].map((m) => m.backend)];
    this.#backends.retain(inUse);
    // Kept clients ask their server again for what they discovered (v2 model metadata, issue #21).
    this.#backends.registryReloaded();
    this.#warmModels();
  }

  #withdraw({withdrawals}: WithdrawMessage): void {
    for (const {key, partIds} of withdrawals) this.#actors.get(key)?.withdraw(new Set(partIds));
  }
}

if (parentPort && workerData?.kind === 'actor-host') {
  const options = workerData.options as HostOptions;
  const log = createLogger(options.logLevel as 'info').child({thread: options.thread, instance: options.instance});
  expose(new ActorHost(options, log), nodeEndpoint(parentPort));
}
