// ROLE=gateway: the coordinator's Transport over NATS. Parts go to the actor thread that owns
// their key in the whole cluster, chosen by rendezvous hashing over the live members (every
// gateway computes the same owner from the same heartbeats: no central authority), coalesced per
// member per event-loop turn as between threads, as signed, versioned binary frames
// (src/protocol/codec.ts, wire.ts).
//
// Who the members are is membership.ts, fed here with the heartbeats that passed every check of
// wire.ts. A results frame counts only from a member this gateway has (its host, that start of
// it, that thread), and each result in it only for a part that was sent to that member (the
// coordinator checks the part's thread); its batch reports only for keys placed on that member
// now, with every field in range (reports.ts).

import type {KeyObject} from 'node:crypto';
import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {Placement, Transport, TransportEvents} from '../coordinator/transport.ts';
import type {Frame} from '../protocol/codec.ts';
import type {DispatchMessage} from '../protocol/messages.ts';
import {forEachPart} from '../protocol/messages.ts';
import {Outbox, ResultsBuffer} from '../protocol/outbox.ts';
import {gatewayMembershipEvents, keyIdleMs, membershipLimits} from './gateway-members.ts';
import type {Outgoing} from './gateway-members.ts';
import {Membership} from './membership.ts';
import {MembershipLog} from './membership-log.ts';
import {closeNats, heartbeatMs, subjects} from './nats.ts';
import type {ClusterConnection, Route} from './nats.ts';
import {acceptedReports, PlacedKeys} from './reports.ts';
import {splitDispatch, splitWithdrawal} from './split-dispatch.ts';
import {Wire} from './wire.ts';
import type {ClusterRefusal} from './wire.ts';

export interface GatewayOptions {
  /** This gateway's name (CLUSTER_NODE, or random) and this start's boot: subject tokens. */
  readonly name: string;
  readonly boot: string;
  readonly prefix: string;
  readonly key: KeyObject;
}

export class GatewayTransport implements Transport {
  readonly name: string;
  readonly boot: string;
  readonly #subjects: ReturnType<typeof subjects>;
  readonly #events: TransportEvents;
  readonly #log: Logger;
  readonly #membership: Membership;
  /** Member index -> its subject and this turn's buffer, while it is a member. */
  readonly #outgoing = new Map<number, Outgoing>();
  readonly #outbox = new Outbox(() => this.#flush());
  readonly #sweeper: NodeJS.Timeout;
  /** The keys placed on each member now (reports.ts), forgotten after keyIdleMs unsent. */
  readonly #placed = new PlacedKeys(keyIdleMs);
  /** A clock for #placed, read by the sweeper (not once per part). */
  #now = Date.now();
  readonly #membershipLog: MembershipLog;
  readonly #wire: Wire;
  /** A new key goes to the live member with the highest rendezvous score. */
  readonly placement: Placement;
  /** Set once NATS is reached (with every subscription it allows: see #attach). */
  #nc: NatsConnection | undefined;
  #connected = false;
  #closed = false;

  /**
   * Not ready until `connection` resolves: /readyz says 503 while NATS cannot be reached (and
   * nats-status.ts says so in the log), and for good when NATS refuses a subject this gateway's
   * name implies (CLUSTER_NODE vs its credentials: logged at error).
   */
  constructor(connection: Promise<ClusterConnection>, options: GatewayOptions, events: TransportEvents, log: Logger) {
    this.name = options.name;
    this.boot = options.boot;
    this.#subjects = subjects(options.prefix);
    this.#events = events;
    this.#log = log;
    this.#wire = new Wire({
      connection: () => this.#nc,
      key: options.key,
      identity: {sender: options.name, boot: options.boot},
      prefix: options.prefix,
      log,
    });
    this.#membershipLog = new MembershipLog(log);
    const onChange = gatewayMembershipEvents({
      outgoing: this.#outgoing,
      placed: this.#placed,
      subjectOf: (host, m) => this.#subjects.thread(host, m.boot, m.thread, this.name),
      events,
      log: this.#membershipLog,
    });
    this.#membership = new Membership(membershipLimits, onChange, Date.now());
    this.placement = this.#membership;
    this.#sweeper = setInterval(() => {
      this.#now = Date.now();
      this.#membership.sweep(this.#now);
      this.#placed.sweep(this.#now);
    }, heartbeatMs / 2);
    this.#sweeper.unref();
    void connection.then((c) => this.#attach(c)).catch(() => {});
  }

  async #attach({nc, status}: ClusterConnection): Promise<void> {
    if (this.#closed) {
      await nc.close();
      return;
    }
    const onFrame = (err: Error | null, msg: {subject: string; data: Uint8Array}) => {
      if (!err) this.#frame(msg.subject, msg.data);
    };
    nc.subscribe(this.#subjects.allMembers, {callback: onFrame});
    nc.subscribe(this.#subjects.gatewayInbox(this.name, this.boot), {callback: onFrame});
    const problem = await status.permissionProblem(nc);
    this.#nc = nc;
    if (problem) {
      this.#log.error({problem}, 'not ready: NATS refused a subject this gateway needs');
      return;
    }
    this.#connected = !this.#closed;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.#connected = false;
        if (s.type === 'reconnect') this.#connected = true;
      }
    })().catch(() => {});
  }

  /** Connected to NATS (every subject allowed) and at least one actor thread takes new keys. */
  available(): boolean {
    return this.#connected && this.#nc?.isClosed() === false && this.#membership.available;
  }

  /** Live members (threads) and those leaving. */
  get members(): {live: number; leaving: number} {
    return this.#membership.counts;
  }

  /** Frames (and results) refused so far, by reason, for /metrics. */
  get refusals(): ReadonlyMap<ClusterRefusal, number> {
    return this.#wire.refusals;
  }

  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>, client: number): void {
    const out = this.#outgoing.get(thread);
    if (!out) {
      // Gone between placement and now: its parts are lost (the coordinator fails them).
      queueMicrotask(() => this.#events.threadFailed(thread));
      return;
    }
    out.buffer.add(key, partId, deadline, vector, client);
    this.#placed.sent(key, thread, this.#now);
    this.#outbox.schedule();
  }

  withdraw(thread: number, key: string, partId: number): void {
    const out = this.#outgoing.get(thread);
    if (!out) return;
    out.buffer.withdraw(key, partId);
    this.#outbox.schedule();
  }

  /** Shutdown: what is queued this turn goes now; the actor hosts keep batching for the others. */
  drain(): void {
    this.#outbox.flushNow();
  }

  /** Resolves once some actor thread has announced itself (or after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.available() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops; never waits long for NATS (a lost or refused connection is closed after 2 s). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#outbox.flushNow();
    this.#wire.close();
    this.#membershipLog.close();
    await closeNats(this.#nc);
  }

  #flush(): void {
    const maxBytes = this.#nc?.info?.max_payload ?? 1024 * 1024;
    for (const [index, {subject, buffer}] of this.#outgoing) {
      if (buffer.isEmpty) continue;
      const dispatch = buffer.dispatch();
      const withdrawal = buffer.withdrawal();
      buffer.clear();
      for (const piece of dispatch ? splitDispatch(dispatch, maxBytes) : []) {
        const unsent = this.#wire.publish(subject, piece);
        if (unsent) this.#failUnsent(index, piece, unsent);
      }
      for (const piece of withdrawal ? splitWithdrawal(withdrawal, maxBytes) : []) this.#wire.publish(subject, piece);
    }
  }

  /** A piece NATS refused (over max_payload, connection closed): its agents fail now, never at their deadline. */
  #failUnsent(index: number, piece: DispatchMessage, reason: string): void {
    const results = new ResultsBuffer();
    const message = `the agent could not be sent to its actor host: ${reason.slice(0, 200)}`;
    forEachPart(piece, (partId) => results.error(partId, 'worker_failed', message));
    const taken = results.take();
    if (taken) queueMicrotask(() => this.#events.results(taken, index));
  }

  #frame(subject: string, bytes: Uint8Array): void {
    const received = this.#wire.read(subject, bytes, (frame) => this.#refusesStart(frame));
    if (!received) return;
    const {frame, route, started} = received;
    if (frame.kind === 'heartbeat') {
      const refused = this.#membership.heartbeat(
        {host: frame.sender, boot: frame.boot, started, threads: frame.threads, leaving: frame.leaving === true},
        Date.now(),
      );
      if (refused) this.#wire.refuse(refused, subject);
    } else if (frame.kind === 'results') this.#results(frame, route, subject);
  }

  /**
   * Whether a frame of a later start of its sender is refused before it replaces the live start
   * on the wire: a heartbeat of a start the table would refuse, results of a start not a member.
   */
  #refusesStart(frame: Frame): ClusterRefusal | undefined {
    if (frame.kind === 'heartbeat') return this.#membership.refusesStart(frame.sender, frame.threads, Date.now());
    return frame.kind === 'results' && !this.#membership.find(frame.sender, frame.boot, frame.thread)
      ? 'unknown_member'
      : undefined;
  }

  #results(frame: Extract<Frame, {kind: 'results'}>, route: Route, subject: string): void {
    // Our inbox only: another start of this gateway's name is another gateway.
    if (route.kind !== 'gateway' || route.gateway !== this.name || route.boot !== this.boot) {
      this.#wire.refuse('bad_subject', subject);
      return;
    }
    const member = this.#membership.find(frame.sender, frame.boot, frame.thread);
    if (!member) {
      this.#wire.refuse('unknown_member', subject);
      return;
    }
    const {reports, dropped} = acceptedReports(frame.reports, this.#placed.of(member.index));
    if (dropped > 0) this.#wire.refuse('bad_report', subject, undefined, dropped);
    const foreign = this.#events.results(reports === frame.reports ? frame : {...frame, reports}, member.index);
    if (foreign) this.#wire.refuse('wrong_member', subject, undefined, foreign);
  }
}
