// Worker-thread entry: hosts the actors of every key placed on this thread.
//
//   main thread ── comlink: connect(port), stats() ──▶ ActorThread
//               ══ data port: ThreadMessage ══▶ ActorThread ──▶ Actor (one per key)
//               ◀═ data port: ResultsMessage ══ results of every actor, once per turn
//
// Config comes from workerData (never process.env). See src/protocol/messages.ts for why the data
// plane is a port of its own.

import {parentPort, workerData} from 'node:worker_threads';
import type {MessagePort} from 'node:worker_threads';
import {expose, nodeEndpoint} from '../src/comlink.ts';
import type {Logger} from 'pino';
import type {BackendOptions} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {parseKey} from '../src/protocol/mailbox-key.ts';
import type {
  ActorThreadApi,
  DataPort,
  DispatchMessage,
  ThreadMessage,
  ThreadOptions,
  ThreadStats,
  ResultsMessage,
  WithdrawMessage,
} from '../src/protocol/messages.ts';
import {Actor} from './actor.ts';
import type {ActorContext, ActorSettings, Part} from './actor.ts';
import {BackendClients, backendId} from './backend/create.ts';
import type {Registry} from '../src/registry.ts';
import {backendsOf, KeySettings, settingsIn} from './key-settings.ts';
import {Outbox, ResultsBuffer} from '../src/protocol/outbox.ts';
import type {ResultSink} from '../src/protocol/outbox.ts';
import {forEachPart} from '../src/protocol/messages.ts';
import {systemClock} from './clock.ts';
import type {Clock} from './clock.ts';

export class ActorThread implements ActorThreadApi {
  readonly #actors = new Map<string, Actor>();
  readonly #ctx: ActorContext;
  #port: DataPort<ResultsMessage, ThreadMessage> | undefined;
  readonly #results = new ResultsBuffer();
  readonly #outbox = new Outbox(() => {
    const message = this.#results.take();
    if (message) this.#port?.postMessage(message, [message.results.buffer]);
  });
  #draining = false;
  #batchSeq = 0;
  #registry: Registry;
  readonly #backends: BackendClients;
  /** Each key's window and cost fit, kept across its actor's retirement (key-settings.ts). */
  readonly #keySettings = new KeySettings();
  /** Backends (backendId) of the registry's onnx models whose session is open (or failed to open). */
  readonly #warmed = new Set<string>();
  /**
   * Actors a registry reload took off their key because the key's backend changed (or its model
   * went), with the backend they call: each finishes the rows it holds there, under the settings
   * they were admitted with, takes no new ones, and goes once idle. The key's next rows get a new
   * actor. A row is never computed by a backend other than the one it was admitted under.
   */
  readonly #superseded = new Map<Actor, BackendOptions>();

  #stopping: Promise<void> | undefined;
  readonly #exit: () => void;

  /** `exit` ends the thread once a stop message has closed its backends (process.exit in a worker). */
  constructor(
    options: ThreadOptions,
    log: Logger,
    clock: Clock = systemClock,
    backends = new BackendClients(),
    exit: () => void = () => {},
  ) {
    this.#exit = exit;
    this.#registry = options.registry;
    const batchPrefix = options.batchPrefix ? `${options.batchPrefix}.` : '';
    this.#backends = backends;
    // The registry's clients are made now, before the thread answers, not at a key's first batch.
    for (const backend of backendsOf(options.registry)) backends.get(backend);
    this.#ctx = {
      clock,
      log,
      nextBatchId: () => `b-${batchPrefix}${options.instance}-${++this.#batchSeq}`,
      results: this.#sink(),
      idle: (actor) => {
        // Retired when empty: nothing is lost, a key that comes back gets a fresh actor.
        if (this.#actors.get(actor.key) === actor) this.#actors.delete(actor.key);
        else if (this.#superseded.delete(actor)) this.#retainBackends();
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

  /** The turn's results buffer, with the outbox's flush scheduled whenever something is put in it. */
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

  connect(port: MessagePort | DataPort<ResultsMessage, ThreadMessage>): void {
    this.#port = port as DataPort<ResultsMessage, ThreadMessage>;
    this.#port.on('message', (message) => this.receive(message));
  }

  receive(message: ThreadMessage): void {
    switch (message.kind) {
      case 'dispatch':
        this.#dispatch(message);
        return;
      case 'withdraw':
        this.#withdraw(message);
        return;
      case 'drain':
        this.#draining = true;
        for (const actor of this.#everyActor()) actor.drain();
        return;
      case 'registry':
        this.#reload(message.registry);
        return;
      case 'stop':
        void this.stop().then(this.#exit);
        return;
    }
  }

  /**
   * The pool is closing: rows that come now are not taken, the backend calls under way finish,
   * every backend closes (an ONNX session is released after its last run, awaited), then `exit`.
   * The thread ends from its own event loop, between two turns: never inside a native run.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#ctx.log.debug('stopping: closing backends');
      await this.#backends.closeAll();
    })();
    return this.#stopping;
  }

  stats(): ThreadStats {
    let pending = 0;
    let inflight = 0;
    const keys = [];
    for (const actor of this.#everyActor()) {
      pending += actor.pending;
      inflight += actor.inflight;
      keys.push({key: actor.key, pending: actor.pending, inflight: actor.inflight});
    }
    return {actors: keys.length, pending, inflight, keys, warmed: [...this.#warmed]};
  }

  /** The keys' actors, and those a reload superseded that still hold rows. */
  #everyActor(): Actor[] {
    return [...this.#actors.values(), ...this.#superseded.keys()];
  }

  #dispatch(message: DispatchMessage): void {
    // Stopping: the pool is closed and nobody waits for these rows.
    if (this.#stopping) return;
    const {keys} = message;
    const byKey: Part[][] = keys.map(() => []);
    const now = this.#ctx.clock.now();
    forEachPart(message, (partId, keyIndex, deadline, row, client) =>
      byKey[keyIndex].push({partId, deadline, arrivedAt: now, row, client}),
    );
    for (let i = 0; i < keys.length; i++) {
      if (byKey[i].length === 0) continue;
      let actor = this.#actors.get(keys[i]);
      if (!actor) {
        const pair = parseKey(keys[i]);
        actor = new Actor(keys[i], pair, this.#ctx, this.#settingsOf(keys[i], pair.model));
        if (this.#draining) actor.drain();
        this.#actors.set(keys[i], actor);
      }
      actor.dispatch(byKey[i]);
    }
  }

  #settingsOf(key: string, model: string): ActorSettings {
    return this.#keySettings.settingsOf(this.#registry, this.#backends, key, model);
  }

  /**
   * New registry. An actor whose key keeps its backend takes the new batch settings for its next
   * batches, waiting rows included. One whose backend changed, or whose model is gone, is
   * superseded: its rows finish where they were admitted. Clients no one uses close when idle.
   */
  #reload(registry: Registry): void {
    const before = this.#registry;
    this.#registry = registry;
    for (const actor of [...this.#actors.values()]) {
      const {model} = parseKey(actor.key);
      const was = settingsIn(before, model).backend;
      if (backendId(was) === backendId(settingsIn(registry, model).backend)) {
        actor.reconfigure(this.#settingsOf(actor.key, model));
        continue;
      }
      this.#actors.delete(actor.key);
      this.#keySettings.forgetWindow(actor.key);
      this.#superseded.set(actor, was);
    }
    this.#retainBackends();
    // Kept clients ask their server again for what they discovered (v2 model metadata, issue #21).
    this.#backends.registryReloaded();
    this.#warmModels();
  }

  /** Keeps the clients of the registry's backends and of superseded actors; the others close once idle. */
  #retainBackends(): void {
    this.#backends.retain([...backendsOf(this.#registry), ...this.#superseded.values()]);
  }

  #withdraw({withdrawals}: WithdrawMessage): void {
    for (const {key, partIds} of withdrawals) {
      const ids = new Set(partIds);
      this.#actors.get(key)?.withdraw(ids);
      for (const actor of this.#superseded.keys()) if (actor.key === key) actor.withdraw(ids);
    }
  }
}

if (parentPort && workerData?.kind === 'actor-thread') {
  const options = workerData.options as ThreadOptions;
  const log = createLogger(options.logLevel as 'info').child({thread: options.thread, instance: options.instance});
  // process.exit in a worker ends this thread only, with code 0, from its own loop.
  expose(
    new ActorThread(options, log, systemClock, new BackendClients(), () => process.exit(0)),
    nodeEndpoint(parentPort),
  );
}
