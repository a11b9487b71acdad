// Frames signed with the cluster key (CLUSTER_KEY): HMAC-SHA256 over the subject a frame is
// published on and every byte of the frame before its signature, so that a frame is good only
// on the subject it was signed for (a results frame for one gateway cannot be replayed to
// another) and only whole (a changed value, key or part id breaks it). The envelope inside the
// signed header (sender, boot, seq, ts) is what the receiver then checks for freshness and
// replays (replay.ts). Signatures are compared in constant time.
//
// A signer's sequence numbers are tied to time: each frame's seq is one more than the last, and
// never less than `seqPerMs` per ms since its boot's start (the boot carries it: nats.ts), so a
// receiver can refuse a seq far ahead of that (replay.ts) and a forged jump is overtaken in time.
//
// What the key stops: anyone on the bus without it (an outsider with a NATS connection, a leaked
// NATS credential) can neither forge nor alter a frame, nor replay one (replay.ts). What it does
// not stop: every holder of the key can sign as any node; binding a node's name to its NATS
// credential is the permissions' job (README, "Scaling out": locked down).

import {createHmac, timingSafeEqual} from 'node:crypto';
import type {KeyObject} from 'node:crypto';
import {encode, signatureOf, signedPart} from '../protocol/codec.ts';
import type {WireMessage} from '../protocol/codec.ts';
import {bootStart} from './nats.ts';
import {replayLimits} from './replay.ts';

export const signatureProblems = ['unsigned', 'bad_signature'] as const;
export type SignatureProblem = (typeof signatureProblems)[number];

/** The signature of `body` published on `subject` (the subject length-prefixed: no two inputs read alike). */
function signature(key: KeyObject, subject: string, body: Uint8Array): Buffer {
  const subjectBytes = Buffer.from(subject, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(subjectBytes.length);
  return createHmac('sha256', key).update(length).update(subjectBytes).update(body).digest();
}

/** One node's signer: its name and boot in every frame, a sequence number per frame, its clock. */
export class FrameSigner {
  readonly sender: string;
  readonly boot: string;
  readonly #key: KeyObject;
  readonly #now: () => number;
  /** The boot's start time, when its id carries one. */
  readonly #started: number | undefined;
  #seq = 0;

  constructor(
    key: KeyObject,
    identity: {readonly sender: string; readonly boot: string},
    now: () => number = Date.now,
  ) {
    this.#key = key;
    this.sender = identity.sender;
    this.boot = identity.boot;
    this.#now = now;
    this.#started = bootStart(identity.boot);
  }

  /** The signed frame of `message`, good only on `subject`. */
  sign(subject: string, message: WireMessage): Uint8Array {
    const ts = this.#now();
    const byTime = this.#started === undefined ? 0 : Math.floor((ts - this.#started) * replayLimits.seqPerMs);
    this.#seq = Math.max(this.#seq + 1, byTime);
    return signFrame(this.#key, subject, encode(message, {sender: this.sender, boot: this.boot, seq: this.#seq, ts}));
  }
}

/** Fills in the signature of an encoded frame for `subject` (in place); returns the frame. */
export function signFrame(key: KeyObject, subject: string, bytes: Uint8Array): Uint8Array {
  signatureOf(bytes).set(signature(key, subject, signedPart(bytes)));
  return bytes;
}

/** Why a frame's signature does not hold for `subject`, if it does not (the frame's preamble was checked). */
export function signatureProblem(key: KeyObject, subject: string, bytes: Uint8Array): SignatureProblem | undefined {
  const given = signatureOf(bytes);
  if (given.every((b) => b === 0)) return 'unsigned';
  return timingSafeEqual(given, signature(key, subject, signedPart(bytes))) ? undefined : 'bad_signature';
}
