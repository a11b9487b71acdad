// ROLE=actors: an actor host. ACTOR_POOL_SIZE worker threads run the same actors, batch policy
// and backends as in one process (src/threads/pool.ts); this main thread is only the bridge to
// NATS:
//
//   gateways ══ <prefix>.host.<host>.<boot>.<thread>.<gateway> ══▶ bridge ── pool ──▶ actor thread <thread>
//            ◀═ <prefix>.gateway.<gateway>.<its boot>.<host>  ══ bridge ◀── results of each thread, per turn
//
// Every frame in and out is signed and checked (wire.ts). Each incoming part gets a local id
// (held-parts.ts: at most MAX_PENDING_TOTAL per gateway name), and a withdrawal reaches only the
// parts of the gateway that sent it. A part longer than its model's vector_length (or
// MAX_VECTOR_LENGTH) is answered backend_rejected when its frame is read, before anything holds it. A batch report goes to every gateway that had rows in the
// batch. Every part leaves exactly once: a result; `worker_failed` when its thread died, was never
// started here, or its gateway has its most parts held here ("actor host overloaded", the other
// gateways unaffected); or nothing when its gateway is gone (its deadline empties the entry).
//
// SIGTERM: the host says it is leaving (gateways place no new keys here), cuts every batch now,
// answers everything it holds, then exits 0.

import type {Msg, NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import {forEachPart} from '../protocol/messages.ts';
import type {ResultsMessage} from '../protocol/messages.ts';
import type {Frame} from '../protocol/codec.ts';
import {ResultsBuffer} from '../protocol/outbox.ts';
import {giveUp, raceTimeout} from '../race-timeout.ts';
import type {Registry} from '../registry.ts';
import {ActorPool} from '../threads/pool.ts';
import {poolOptions} from '../threads/pool-options.ts';
import {bootId, closeNats, connectNats, heartbeatMs, nodeId, subjects} from './nats.ts';
import type {Route} from './nats.ts';
import {HeldParts, maxFloatsPerGateway, maxFloatsTotal} from './held-parts.ts';
import {parseKey} from '../protocol/mailbox-key.ts';
import {splitResults} from './split-dispatch.ts';
import {Wire} from './wire.ts';

export class ActorsNode {
  /** This host's name (CLUSTER_NODE, or random) and this start's boot. */
  readonly name: string;
  readonly boot = bootId();
  readonly pool: ActorPool;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #subjects: ReturnType<typeof subjects>;
  #nc: NatsConnection | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Parts sent to a thread and not yet answered for, by local id (held-parts.ts). */
  readonly #held: HeldParts;
  /** What a part beyond this gateway's bound is answered. */
  readonly #overloaded: string;
  readonly #wire: Wire;
  #registry: Registry;
  #leaving = false;
  #idle: (() => void) | undefined;

  constructor(config: Config, registry: Registry, log: Logger) {
    if (!config.nats || !config.cluster) throw new Error('ROLE=actors needs NATS_URL and CLUSTER_KEY');
    this.#config = config;
    this.#registry = registry;
    this.#held = new HeldParts(config.maxPendingTotal);
    this.#overloaded = `actor host overloaded: it holds ${config.maxPendingTotal} rows (MAX_PENDING_TOTAL) or ${maxFloatsPerGateway} floats of this gateway, or ${maxFloatsTotal} of all; retry later`;
    this.name = config.cluster.node ?? nodeId();
    this.#log = log.child({host: this.name, boot: this.boot});
    this.#subjects = subjects(config.nats.prefix);
    this.#wire = new Wire({
      connection: () => this.#nc,
      key: config.cluster.key,
      identity: {sender: this.name, boot: this.boot},
      prefix: config.nats.prefix,
      log: this.#log,
    });
    this.pool = new ActorPool(
      // Batch ids carry the host's name and boot: unique in the cluster, across restarts too.
      poolOptions(config, registry, this.#log, {batchPrefix: `${this.name}~${this.boot}`}),
      {results: (m, thread) => void this.#results(m, thread), threadFailed: (t) => this.#threadFailed(t)},
    );
  }

  /** Parts held (sent to a thread, not yet answered for). */
  get held(): number {
    return this.#held.size;
  }

  async start(): Promise<void> {
    await this.pool.ready();
    const {nc, status} = await connectNats(this.#config.nats!, this.name, 'actors', this.#log);
    this.#nc = nc;
    const callback = (err: Error | null, msg: Msg) => void (err || this.#frame(msg.subject, msg.data));
    nc.subscribe(this.#subjects.hostInbox(this.name, this.boot), {callback});
    this.#beat();
    // A name its credentials do not allow (CLUSTER_NODE): one clear start-up error, not a deaf host.
    const problem = await status.permissionProblem(nc);
    if (problem) {
      await nc.close().catch(() => {});
      throw new Error(problem);
    }
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    this.#log.info({threads: this.pool.threads}, 'actor host up');
  }

  reconfigure(registry: Registry): void {
    this.#registry = registry;
    this.pool.reconfigure(registry);
  }

  /**
   * Leaves the membership, finishes what it holds (within SHUTDOWN_TIMEOUT_MS), then closes. It
   * keeps heartbeating (as leaving) until then: a host silent for 1.5 s is gone, and what it
   * holds would fail, however soon its backend calls would have ended.
   */
  async shutdown(): Promise<void> {
    this.#leaving = true;
    // Said at once, twice more than usual: a gateway that misses one heartbeat still hears it.
    for (let i = 0; i < 3; i++) this.#beat();
    this.#log.info({held: this.#held.size}, 'leaving: finishing what this host holds');
    this.pool.drain();
    if (this.#held.size > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      await raceTimeout(idle, this.#config.shutdownTimeoutMs, giveUp);
    }
    clearInterval(this.#heartbeat);
    await closeNats(this.#nc);
    this.#wire.close();
    await this.pool.close();
    this.#log.info('actor host stopped');
  }

  /** Announces the threads, all started (start() waited for the pool), or that this host leaves. */
  #beat(): void {
    this.#wire.publish(this.#subjects.members(this.name), {
      kind: 'heartbeat',
      threads: this.pool.threads,
      ...(this.#leaving && {leaving: true}),
    });
  }

  #frame(subject: string, bytes: Uint8Array): void {
    const received = this.#wire.read(subject, bytes);
    if (!received) return;
    const {frame, route} = received;
    if (route.kind !== 'host' || route.host !== this.name || route.boot !== this.boot) {
      this.#wire.refuse('bad_subject', subject);
      return;
    }
    if (frame.kind === 'dispatch') this.#dispatch(frame, route, subject);
    else if (frame.kind === 'withdraw') this.#withdraw(frame, route, subject);
  }

  /**
   * Each part to its thread, held until answered; answered at once (none waits for its deadline):
   * `backend_rejected` when its vector is longer than its model takes, `worker_failed` when the
   * thread was never started here (a gateway that believes a forged heartbeat) or when this
   * gateway has its most parts (or floats) held here.
   */
  #dispatch(frame: Extract<Frame, {kind: 'dispatch'}>, route: Extract<Route, {kind: 'host'}>, subject: string): void {
    const to = this.#subjects.gateway(frame.sender, frame.boot, this.name);
    const {thread} = route;
    const missing = thread >= this.pool.threads;
    const failed = new ResultsBuffer();
    let refused = 0;
    let tooLong = 0;
    forEachPart(frame, (partId, keyIndex, deadline, vector, client) => {
      const key = frame.keys[keyIndex];
      const longest = this.#longest(key);
      if (vector.length > longest) {
        tooLong++;
        return failed.error(
          partId,
          'backend_rejected',
          `vector of ${vector.length} numbers: this model takes at most ${longest}`,
        );
      }
      const local = missing
        ? undefined
        : this.#held.add({gateway: frame.sender, to, partId, thread, key, floats: vector.length});
      if (local !== undefined) return this.pool.send(thread, key, local, deadline, vector, client);
      refused++;
      failed.error(
        partId,
        'worker_failed',
        missing ? `actor thread ${thread} does not exist on this host` : this.#overloaded,
      );
    });
    if (refused + tooLong === 0) return;
    this.#send(to, thread, failed);
    if (tooLong > 0) this.#wire.refuse('too_long', subject, frame.sender, tooLong);
    if (refused > 0 && missing) this.#wire.refuse('no_such_thread', subject);
    else if (refused > 0) this.#wire.refuse('gateway_rows', subject, frame.sender, refused);
  }

  /** The longest vector `key`'s model takes: its vector_length, or MAX_VECTOR_LENGTH. */
  #longest(key: string): number {
    return this.#registry.models?.get(parseKey(key).model)?.vectorLength ?? this.#config.maxVectorLength;
  }

  /** Withdraws parts of the gateway that sent them (its name and boot), never another's. */
  #withdraw(frame: Extract<Frame, {kind: 'withdraw'}>, route: Extract<Route, {kind: 'host'}>, subject: string): void {
    if (route.thread >= this.pool.threads) {
      this.#wire.refuse('no_such_thread', subject);
      return;
    }
    const to = this.#subjects.gateway(frame.sender, frame.boot, this.name);
    for (const {key, partIds} of frame.withdrawals) {
      for (const partId of partIds) {
        const local = this.#held.localOf(to, partId);
        if (local !== undefined) this.pool.withdraw(route.thread, key, local);
      }
    }
  }

  /** A thread's results, each sent back to its own gateway, with the gateway's part id. */
  #results(message: ResultsMessage, thread: number): void {
    for (const [to, buffer] of this.#held.answers(message)) this.#send(to, thread, buffer);
    this.#checkIdle();
  }

  /** A thread died: everything it held is answered `worker_failed`, to each part's gateway. */
  #threadFailed(thread: number): void {
    const out = new Map<string, ResultsBuffer>();
    const lost = this.#held.releaseThread(thread);
    for (const held of lost) {
      let buffer = out.get(held.to);
      if (!buffer) {
        buffer = new ResultsBuffer();
        out.set(held.to, buffer);
      }
      buffer.error(held.partId, 'worker_failed', 'the actor thread holding this agent failed');
    }
    for (const [to, buffer] of out) this.#send(to, thread, buffer);
    this.#log.warn({thread, failed: lost.length}, 'actor thread died; its parts answered worker_failed');
    this.#checkIdle();
  }

  /** What `thread` has for the gateway at `to`, as signed frames within max_payload. */
  #send(to: string, thread: number, buffer: ResultsBuffer): void {
    const message = buffer.take();
    const maxBytes = this.#nc?.info?.max_payload ?? 1024 * 1024;
    for (const piece of message ? splitResults(message, maxBytes) : []) this.#wire.publish(to, {...piece, thread});
  }

  #checkIdle(): void {
    if (this.#held.size === 0 && this.#idle) {
      const wake = this.#idle;
      this.#idle = undefined;
      wake();
    }
  }
}
