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
import type {ActorContext, Part} from './actor.ts';
import {createBackend} from './backend/create.ts';
import type {Backend} from './backend/backend.ts';
import {Outbox, ResultsBuffer} from '../src/protocol/outbox.ts';
import {systemClock} from './clock.ts';
import type {Clock} from './clock.ts';

export class ActorHost implements ActorHostApi {
  readonly #actors = new Map<string, Actor>();
  readonly #ctx: ActorContext;
  #port: DataPort<ResultsMessage, HostMessage> | undefined;
  readonly #results = new ResultsBuffer();
  readonly #outbox = new Outbox(() => {
    const message = this.#results.take();
    if (message) this.#port?.postMessage(message);
  });
  #draining = false;
  #batchSeq = 0;

  constructor(options: HostOptions, backend: Backend, log: Logger, clock: Clock = systemClock) {
    this.#ctx = {
      backend,
      batching: options.batching,
      clock,
      log,
      nextBatchId: () => `b-${options.instance}-${++this.#batchSeq}`,
      emit: (result) => {
        this.#results.result(result);
        this.#outbox.schedule();
      },
      report: (batch) => {
        this.#results.batch(batch);
        this.#outbox.schedule();
      },
      idle: (actor) => {
        // Retired when empty: nothing is lost, a key that comes back gets a fresh actor.
        if (this.#actors.get(actor.key) === actor) this.#actors.delete(actor.key);
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
    return {actors: this.#actors.size, pending, inflight, keys};
  }

  #dispatch({keys, parts, data}: DispatchMessage): void {
    const byKey: Part[][] = keys.map(() => []);
    const now = this.#ctx.clock.now();
    for (const p of parts) {
      byKey[p.keyIndex].push({
        partId: p.partId,
        requestId: p.requestId,
        deadline: p.deadline,
        arrivedAt: now,
        row: data.subarray(p.offset, p.offset + p.length),
      });
    }
    for (let i = 0; i < keys.length; i++) {
      if (byKey[i].length === 0) continue;
      let actor = this.#actors.get(keys[i]);
      if (!actor) {
        actor = new Actor(keys[i], parseKey(keys[i]), this.#ctx);
        if (this.#draining) actor.drain();
        this.#actors.set(keys[i], actor);
      }
      actor.dispatch(byKey[i]);
    }
  }

  #withdraw({withdrawals}: WithdrawMessage): void {
    for (const {key, partIds} of withdrawals) this.#actors.get(key)?.withdraw(new Set(partIds));
  }
}

if (parentPort && workerData?.kind === 'actor-host') {
  const options = workerData.options as HostOptions;
  const log = createLogger(options.logLevel as 'info').child({thread: options.thread, instance: options.instance});
  const backend = await createBackend(options.backend);
  expose(new ActorHost(options, backend, log), nodeEndpoint(parentPort));
}
