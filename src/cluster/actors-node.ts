// ROLE=actors: an actor host. ACTOR_POOL_SIZE worker threads run the same actors, batch policy
// and backends as in one process (src/threads/pool.ts); this main thread is only the bridge to
// NATS:
//
//   gateways ══ <prefix>.host.<host>.<thread> ══▶ bridge ── pool ──▶ actor thread <thread>
//            ◀═ <prefix>.gateway.<gateway>   ══ bridge ◀── results of every thread, per turn
//
// Part ids are a gateway's own, so the bridge gives every incoming part a local id (and maps it
// back on the way out): two gateways' part 17 never meet in one mailbox. A batch report goes to
// every gateway that had rows in the batch. Every part leaves exactly once: a result, or
// `worker_failed` when its thread died, or nothing when its gateway is gone (its deadline then
// empties the entry: nothing here grows with a dead gateway).
//
// SIGTERM: the host says it is leaving (gateways place no new keys here), cuts every batch now,
// answers everything it holds, then exits 0.

import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import {encode} from '../protocol/codec.ts';
import type {HeartbeatMessage, ToHost} from '../protocol/codec.ts';
import {forEachPart, forEachResult} from '../protocol/messages.ts';
import type {ResultsMessage} from '../protocol/messages.ts';
import {ResultsBuffer} from '../protocol/outbox.ts';
import type {Registry} from '../registry.ts';
import {ActorPool} from '../threads/pool.ts';
import {connectNats, heartbeatMs, nodeId, subjects, Wire} from './nats.ts';

interface Held {
  readonly gateway: string;
  readonly partId: number;
  readonly thread: number;
  readonly key: string;
}

export class ActorsNode {
  readonly id = nodeId();
  readonly pool: ActorPool;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #subjects: ReturnType<typeof subjects>;
  #nc: NatsConnection | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** local part id -> where it came from. */
  readonly #held = new Map<number, Held>();
  /** `${gateway} ${partId}` -> local part id, for withdrawals. */
  readonly #local = new Map<string, number>();
  readonly #wire: Wire;
  #seq = 0;
  #leaving = false;
  #idle: (() => void) | undefined;

  constructor(config: Config, registry: Registry, log: Logger) {
    if (!config.nats) throw new Error('ROLE=actors needs NATS_URL');
    this.#config = config;
    this.#log = log.child({host: this.id});
    this.#subjects = subjects(config.nats.prefix);
    this.#wire = new Wire(() => this.#nc, this.#log);
    this.pool = new ActorPool(
      {
        size: config.poolSize,
        host: {registry, logLevel: config.logLevel, batchPrefix: this.id},
        log: this.#log.child({component: 'pool'}),
        resourceLimits: {maxOldGenerationSizeMb: 1024},
      },
      {results: (m) => this.#results(m), threadFailed: (t) => this.#threadFailed(t)},
    );
  }

  /** Parts held (sent to a thread, not yet answered for). */
  get held(): number {
    return this.#held.size;
  }

  async start(): Promise<void> {
    await this.pool.ready();
    const nc = await connectNats(this.#config.nats!, `agent-batcher actors ${this.id}`, this.#log);
    this.#nc = nc;
    nc.subscribe(this.#subjects.hostThreads(this.id), {callback: (_err, msg) => this.#frame(msg.subject, msg.data)});
    this.#beat();
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    this.#log.info({threads: this.pool.threads}, 'actor host up');
  }

  reconfigure(registry: Registry): void {
    this.pool.reconfigure(registry);
  }

  /** Leaves the membership, finishes what it holds (within SHUTDOWN_TIMEOUT_MS), then closes. */
  async shutdown(): Promise<void> {
    this.#leaving = true;
    clearInterval(this.#heartbeat);
    // Said a few times: a gateway that misses one heartbeat still hears it.
    for (let i = 0; i < 3; i++) this.#beat();
    this.#log.info({held: this.#held.size}, 'leaving: finishing what this host holds');
    this.pool.drain();
    if (this.#held.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#idle = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#config.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.#nc?.drain().catch(() => {});
    await this.pool.close();
    this.#log.info('actor host stopped');
  }

  #beat(): void {
    const beat: HeartbeatMessage = {kind: 'heartbeat', host: this.id, threads: this.pool.threads, ...(this.#leaving && {leaving: true})};
    this.#publish(this.#subjects.members, encode(beat));
  }

  #publish(subject: string, bytes: Uint8Array): void {
    this.#wire.publish(subject, bytes);
  }

  #frame(subject: string, bytes: Uint8Array): void {
    const message = this.#wire.read(subject, bytes) as ToHost | undefined;
    if (!message) return;
    const thread = Number(subject.slice(subject.lastIndexOf('.') + 1));
    if (!Number.isInteger(thread) || thread < 0 || thread >= this.pool.threads) return;
    if (message.kind === 'dispatch') {
      const {keys, from} = message;
      forEachPart(message, (partId, keyIndex, deadline, vector) => {
        const local = ++this.#seq;
        const key = keys[keyIndex];
        this.#held.set(local, {gateway: from, partId, thread, key});
        this.#local.set(`${from} ${partId}`, local);
        this.pool.send(thread, key, local, deadline, vector);
      });
    } else if (message.kind === 'withdraw') {
      for (const {key, partIds} of message.withdrawals) {
        for (const partId of partIds) {
          const local = this.#local.get(`${message.from} ${partId}`);
          if (local !== undefined) this.pool.withdraw(thread, key, local);
        }
      }
    }
  }

  /** A thread's results, each sent back to its own gateway, with the gateway's part id. */
  #results(message: ResultsMessage): void {
    const out = new Map<string, {buffer: ResultsBuffer; keys: Set<string>}>();
    /** The gateway's buffer and part id for a local part, if its gateway still waits for it. */
    const route = (local: number): {buffer: ResultsBuffer; partId: number} | undefined => {
      const held = this.#release(local);
      if (!held) return undefined;
      let entry = out.get(held.gateway);
      if (!entry) {
        entry = {buffer: new ResultsBuffer(), keys: new Set()};
        out.set(held.gateway, entry);
      }
      entry.keys.add(held.key);
      return {buffer: entry.buffer, partId: held.partId};
    };
    forEachResult(message, {
      prediction(local, value, batch) {
        const to = route(local);
        to?.buffer.prediction(to.partId, value, batch);
      },
      error(local, code, text, batch) {
        const to = route(local);
        to?.buffer.error(to.partId, code, text, batch);
      },
      withdrawn(local) {
        const to = route(local);
        to?.buffer.withdrawn(to.partId);
      },
    });
    // A batch's report goes with its results, to every gateway that had rows in it.
    for (const report of message.reports) for (const entry of out.values()) if (entry.keys.has(report.key)) entry.buffer.report(report);
    for (const [gateway, {buffer}] of out) this.#send(gateway, buffer);
    this.#checkIdle();
  }

  /** A thread died: everything it held is answered `worker_failed`, to each part's gateway. */
  #threadFailed(thread: number): void {
    const out = new Map<string, ResultsBuffer>();
    let failed = 0;
    for (const [local, held] of [...this.#held]) {
      if (held.thread !== thread) continue;
      this.#release(local);
      let buffer = out.get(held.gateway);
      if (!buffer) {
        buffer = new ResultsBuffer();
        out.set(held.gateway, buffer);
      }
      buffer.error(held.partId, 'worker_failed', 'the actor thread holding this agent failed');
      failed++;
    }
    for (const [gateway, buffer] of out) this.#send(gateway, buffer);
    this.#log.warn({thread, failed}, 'actor thread died; its parts answered worker_failed');
    this.#checkIdle();
  }

  #send(gateway: string, buffer: ResultsBuffer): void {
    const message = buffer.take();
    if (message) this.#publish(this.#subjects.gateway(gateway), encode(message));
  }

  #release(local: number): Held | undefined {
    const held = this.#held.get(local);
    if (!held) return undefined;
    this.#held.delete(local);
    this.#local.delete(`${held.gateway} ${held.partId}`);
    return held;
  }

  #checkIdle(): void {
    if (this.#held.size === 0 && this.#idle) {
      const wake = this.#idle;
      this.#idle = undefined;
      wake();
    }
  }
}
