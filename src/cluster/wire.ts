// Frames on NATS, the same for both roles: signed on the way out, and on the way in checked in
// this order before any handler reads a field of them:
//
//   1. a frame of ours, of this protocol version        not_a_frame, other_version
//   2. its signature holds for the subject it came on   unsigned, bad_signature
//   3. its header and columns read                      bad_header, bad_columns, bad_parts, …
//   4. the subject is one of ours, for this kind, and
//      names the sender the signed envelope names       bad_subject, wrong_kind, wrong_sender
//   5. its boot carries a start time (nats.ts bootId)   bad_boot
//   6. fresh, signed after its start, its seq not ahead
//      of its sender's clock, of that name's latest
//      start, not seen before (replay.ts)               stale, bad_boot, seq_ahead, old_boot, replayed
//
// A refused frame is dropped, counted by its reason (agent_batcher_cluster_refused_total on a
// gateway's /metrics) and logged at a bounded rate (refusals.ts). The roles add their own
// reasons for frames that pass these checks and still cannot be taken (ClusterRefusal).
// Publishing never throws: a frame NATS refuses (over max_payload, a closed or draining
// connection) is logged at a bounded rate and its reason returned: a gateway fails that piece's
// agents at once (gateway-transport.ts); what a host could not send, deadlines answer.

import type {KeyObject} from 'node:crypto';
import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import {decode, decodeProblems, preambleProblem} from '../protocol/codec.ts';
import type {Frame, WireMessage} from '../protocol/codec.ts';
import {membershipProblems} from './membership.ts';
import type {Route} from './nats.ts';
import {bootStart, subjects} from './nats.ts';
import {Refusals} from './refusals.ts';
import {freshnessProblems, ReplayGuard} from './replay.ts';
import type {ReplayLimits} from './replay.ts';
import {FrameSigner, signatureProblem, signatureProblems} from './signing.ts';

/** Why a cluster frame (or, for wrong_member, a result in one) was refused: the branch, the metric label and the log field. */
export const clusterRefusals = [
  ...decodeProblems,
  ...signatureProblems,
  'bad_subject',
  'wrong_kind',
  'wrong_sender',
  /** (With freshnessProblems) a boot that carries no start time, or one later than the frame's own time. */
  ...freshnessProblems,
  ...membershipProblems,
  /** Results from a host thread this gateway does not have as a member (gone, or never joined). */
  'unknown_member',
  /** A result for a part that was sent to another member (counted per result). */
  'wrong_member',
  /** A batch report for a key not sent to that member, or out of range (counted per report: reports.ts). */
  'bad_report',
  /** A dispatch for a thread the host has not started (its parts are answered worker_failed). */
  'no_such_thread',
  /** Parts beyond what a host holds for one gateway, in parts or floats (answered worker_failed: actor-node.ts), counted per part. */
  'gateway_rows',
  /** Parts whose vector is longer than their model takes (answered backend_rejected: actor-node.ts), counted per part. */
  'too_long',
] as const;
export type ClusterRefusal = (typeof clusterRefusals)[number];

/** The kinds of frame each subject carries. */
const kindsOn: Record<Route['kind'], readonly Frame['kind'][]> = {
  members: ['heartbeat'],
  host: ['dispatch', 'withdraw'],
  gateway: ['results'],
};

export interface WireOptions {
  readonly connection: () => NatsConnection | undefined;
  readonly key: KeyObject;
  /** This node: its name (a subject token) and this start's boot. */
  readonly identity: {readonly sender: string; readonly boot: string};
  readonly prefix: string;
  readonly log: Logger;
  readonly replay?: ReplayLimits;
  /** The refusal log's interval (tests shorten it). */
  readonly logIntervalMs?: number;
}

/** A frame that passed every check, with the route its subject gave and its sender's start time. */
export interface Received {
  readonly frame: Frame;
  readonly route: Route;
  readonly started: number;
}

export class Wire {
  readonly #connection: () => NatsConnection | undefined;
  readonly #key: KeyObject;
  readonly #signer: FrameSigner;
  readonly #subjects: ReturnType<typeof subjects>;
  readonly #replay: ReplayGuard;
  readonly #refusals: Refusals<ClusterRefusal>;
  /** Publishes that failed, by the error's message (max_payload, a closed connection), logged at a bounded rate. */
  readonly #unsent: Refusals<string>;

  constructor(options: WireOptions) {
    this.#connection = options.connection;
    this.#key = options.key;
    this.#signer = new FrameSigner(options.key, options.identity);
    this.#subjects = subjects(options.prefix);
    this.#replay = new ReplayGuard(options.replay);
    this.#refusals = new Refusals(options.log, {intervalMs: options.logIntervalMs});
    this.#unsent = new Refusals(options.log, {
      intervalMs: options.logIntervalMs,
      lines: {first: 'could not publish to NATS', more: 'could not publish more frames to NATS (not each logged)'},
    });
  }

  /** Refusals so far, by reason. */
  get refusals(): ReadonlyMap<ClusterRefusal, number> {
    return this.#refusals.counts;
  }

  /**
   * Signs `message` for `subject` and publishes it. Returns why NATS refused it (over the
   * server's max_payload, a closed connection), or undefined: the caller answers what was lost.
   */
  publish(subject: string, message: WireMessage): string | undefined {
    const bytes = this.#signer.sign(subject, message);
    try {
      this.#connection()?.publish(subject, bytes);
      return undefined;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#unsent.refuse(reason.slice(0, 200), subject, `${bytes.length} bytes`);
      return reason;
    }
  }

  /**
   * The frame, when every check holds; else undefined (refused: counted, logged at a bounded
   * rate). `mayStart` is asked before a later start of the frame's sender replaces the one heard
   * so far (replay.ts): a start it refuses leaves the live one heard.
   */
  read(
    subject: string,
    bytes: Uint8Array,
    mayStart?: (frame: Frame, started: number) => ClusterRefusal | undefined,
  ): Received | undefined {
    const preamble = preambleProblem(bytes);
    if (preamble) return this.refuse(preamble.problem, subject, preamble.detail);
    const signature = signatureProblem(this.#key, subject, bytes);
    if (signature) return this.refuse(signature, subject);
    // Only now is any of it parsed: what a forger wrote never reaches the JSON parser.
    const decoded = decode(bytes);
    if (!decoded.ok) return this.refuse(decoded.problem, subject, decoded.detail);
    const {frame} = decoded;
    const route = this.#subjects.parse(subject);
    if (!route) return this.refuse('bad_subject', subject);
    if (!kindsOn[route.kind].includes(frame.kind)) return this.refuse('wrong_kind', subject, frame.kind);
    if (route.sender !== frame.sender) return this.refuse('wrong_sender', subject);
    const started = bootStart(frame.boot);
    if (started === undefined) return this.refuse('bad_boot', subject);
    const stale = this.#replay.check(
      {sender: frame.sender, boot: frame.boot, started, seq: frame.seq, ts: frame.ts},
      Date.now(),
      mayStart && (() => mayStart(frame, started)),
    );
    if (stale) return this.refuse(stale as ClusterRefusal, subject);
    return {frame, route, started};
  }

  /** Counts (and maybe logs) a refusal; returns undefined, for `return wire.refuse(…)`. */
  refuse(reason: ClusterRefusal, subject: string, detail?: string, count = 1): undefined {
    this.#refusals.refuse(reason, subject, detail, count);
    return undefined;
  }

  close(): void {
    this.#refusals.close();
    this.#unsent.close();
  }
}
