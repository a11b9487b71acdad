// ROLE=gateway: the coordinator's Transport over NATS. Parts go to the actor thread that owns
// their key in the whole cluster, chosen by rendezvous hashing over the live members (every
// gateway computes the same owner from the same heartbeats: no central authority), coalesced per
// member per event-loop turn as between threads, as versioned binary frames (src/protocol/codec.ts).
//
// Membership: each actor host announces its threads every 400 ms on <prefix>.members. A thread
// not heard from for 1.5 s is gone: its parts fail at once with `worker_failed` and its keys move.
// A host stopping (SIGTERM) says so first: its threads take no new keys, and what they hold is
// still answered. Each member gets a number (its transport thread index) for as long as this
// process lives; a member that comes back gets a new one.

import type {NatsConnection, Subscription} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {Transport, TransportEvents} from '../coordinator/transport.ts';
import {encode, splitDispatch} from '../protocol/codec.ts';
import type {HeartbeatMessage} from '../protocol/codec.ts';
import {DispatchBuffer, Outbox} from '../protocol/outbox.ts';
import type {HostStats} from '../protocol/messages.ts';
import type {Registry} from '../registry.ts';
import {rendezvous} from './rendezvous.ts';
import {heartbeatMs, memberTimeoutMs, subjects, Wire} from './nats.ts';

interface Member {
  readonly name: string;
  readonly index: number;
  readonly subject: string;
  lastSeen: number;
  leaving: boolean;
  readonly buffer: DispatchBuffer;
}

export class GatewayTransport implements Transport {
  /** Not used: placement is by rendezvous (placeKey). */
  readonly threads = 0;
  readonly id: string;
  readonly #nc: NatsConnection;
  readonly #subjects: ReturnType<typeof subjects>;
  readonly #events: TransportEvents;
  readonly #log: Logger;
  readonly #members = new Map<string, Member>();
  readonly #byIndex = new Map<number, Member>();
  readonly #outbox = new Outbox(() => this.#flush());
  readonly #subscriptions: Subscription[] = [];
  readonly #sweeper: NodeJS.Timeout;
  readonly #wire: Wire;
  #nextIndex = 0;
  #connected = true;

  constructor(nc: NatsConnection, options: {id: string; prefix: string}, events: TransportEvents, log: Logger) {
    this.#nc = nc;
    this.id = options.id;
    this.#subjects = subjects(options.prefix);
    this.#events = events;
    this.#log = log;
    this.#wire = new Wire(() => nc, log);
    this.#subscriptions.push(
      nc.subscribe(this.#subjects.members, {callback: (_err, msg) => this.#frame(msg.subject, msg.data)}),
      nc.subscribe(this.#subjects.gateway(this.id), {callback: (_err, msg) => this.#frame(msg.subject, msg.data)}),
    );
    this.#sweeper = setInterval(() => this.#sweep(), heartbeatMs / 2);
    this.#sweeper.unref();
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.#connected = false;
        if (status.type === 'reconnect') this.#connected = true;
      }
    })().catch(() => {});
  }

  /** Connected to NATS and at least one actor thread takes new keys. */
  available(): boolean {
    if (!this.#connected || this.#nc.isClosed()) return false;
    for (const m of this.#members.values()) if (!m.leaving) return true;
    return false;
  }

  /** Live members (threads) and those leaving. */
  get members(): {live: number; leaving: number} {
    let leaving = 0;
    for (const m of this.#members.values()) if (m.leaving) leaving++;
    return {live: this.#members.size - leaving, leaving};
  }

  placeKey(key: string): number | undefined {
    const names: string[] = [];
    for (const m of this.#members.values()) if (!m.leaving) names.push(m.name);
    const owner = rendezvous(key, names);
    return owner === undefined ? undefined : this.#members.get(owner)?.index;
  }

  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>): void {
    const member = this.#byIndex.get(thread);
    if (!member) {
      // Gone between placement and now: its parts are lost (the coordinator fails them).
      queueMicrotask(() => this.#events.threadFailed(thread));
      return;
    }
    member.buffer.add(key, partId, deadline, vector);
    this.#outbox.schedule();
  }

  withdraw(thread: number, key: string, partId: number): void {
    const member = this.#byIndex.get(thread);
    if (!member) return;
    member.buffer.withdraw(key, partId);
    this.#outbox.schedule();
  }

  readonly restarts = 0;

  /** The actor hosts report their own mailboxes; a gateway knows only what it sent. */
  async stats(): Promise<HostStats[]> {
    return [];
  }

  /** Each actor host reads MODELS_FILE itself (SIGHUP it too); the gateway validates with its own copy. */
  reconfigure(_registry: Registry): void {}

  /** Shutdown: what is queued this turn goes now; the actor hosts keep batching for the others. */
  drain(): void {
    this.#outbox.flushNow();
  }

  /** Resolves once some actor thread has announced itself (or after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.available() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#outbox.flushNow();
    for (const sub of this.#subscriptions) sub.unsubscribe();
    await this.#nc.drain().catch(() => {});
  }

  #flush(): void {
    const maxBytes = this.#nc.info?.max_payload ?? 1024 * 1024;
    for (const member of this.#members.values()) {
      const buffer = member.buffer;
      if (buffer.isEmpty) continue;
      const dispatch = buffer.dispatch();
      if (dispatch) {
        for (const piece of splitDispatch(dispatch, maxBytes)) this.#publish(member.subject, encode({...piece, from: this.id}));
      }
      const withdrawal = buffer.withdrawal();
      if (withdrawal) this.#publish(member.subject, encode({...withdrawal, from: this.id}));
      buffer.clear();
    }
  }

  #publish(subject: string, bytes: Uint8Array): void {
    this.#wire.publish(subject, bytes);
  }

  #frame(subject: string, bytes: Uint8Array): void {
    const message = this.#wire.read(subject, bytes);
    if (!message) return;
    if (message.kind === 'heartbeat') this.#heartbeat(message);
    else if (message.kind === 'results') this.#events.results(message);
  }

  #heartbeat(beat: HeartbeatMessage): void {
    const now = Date.now();
    for (let t = 0; t < beat.threads; t++) {
      const name = `${beat.host}/${t}`;
      let member = this.#members.get(name);
      if (!member) {
        if (beat.leaving) continue;
        member = {
          name,
          index: this.#nextIndex++,
          subject: this.#subjects.thread(beat.host, t),
          lastSeen: now,
          leaving: false,
          buffer: new DispatchBuffer(),
        };
        this.#members.set(name, member);
        this.#byIndex.set(member.index, member);
        this.#log.info({member: name, thread: member.index}, 'actor thread joined');
        this.#events.threadJoined?.(member.index);
      }
      member.lastSeen = now;
      if (beat.leaving && !member.leaving) {
        member.leaving = true;
        this.#log.info({member: name, thread: member.index}, 'actor thread leaving: no new keys for it');
        this.#events.threadLeaving?.(member.index);
      }
    }
  }

  #sweep(): void {
    const before = Date.now() - memberTimeoutMs;
    for (const member of [...this.#members.values()]) {
      if (member.lastSeen >= before) continue;
      this.#members.delete(member.name);
      this.#byIndex.delete(member.index);
      member.buffer.clear();
      this.#log.warn({member: member.name, thread: member.index, silentMs: Date.now() - member.lastSeen}, 'actor thread gone');
      this.#events.threadFailed(member.index);
    }
  }
}
