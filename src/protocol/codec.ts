// The messages of src/protocol/messages.ts as bytes, for the trip between processes over NATS
// (between threads they cross a MessagePort as they are). One frame per message:
//
//   offset  size  field
//   0       1     magic 0xAB
//   1       1     protocol version (wireVersion)
//   2       2     reserved, 0
//   4       4     header length H (uint32, little-endian)
//   8       H     header: the message as UTF-8 JSON, without its columns, with the envelope
//                 (sender, boot, seq, ts: who sent it, which start of that process, its
//                 sequence number there and its clock) inside it
//   8+H     pad   zeros up to the next multiple of 8
//   ...     8·n   each column (a dispatch's parts and vectors, a results message's results), back
//                 to back as raw float64 (little-endian); the header's `columns` gives their lengths
//   end-32  32    the signature: HMAC-SHA256 with the cluster key over the subject the frame is
//                 published on and every byte before it (src/cluster/signing.ts). encode leaves
//                 it zero (an unsigned frame); signing fills it in place, without a copy.
//
// JSON keeps every float64 exact (shortest round-trip form), but the columns, the bulk of a frame,
// travel as raw bytes and are read back without parsing. A frame of another version is refused
// whole (decode says so), never half-read; so is one whose header or columns do not read as its
// kind's (frame-schema.ts). Why a frame was refused is a value (DecodeProblem), the same word in
// the branch, the metric and the log.

import {columnsOf, dispatchProblem, header, resultsProblem} from './frame-schema.ts';
import type {DispatchMessage, ThreadMessage, ResultsMessage} from './messages.ts';

/** 4: each dispatch part carries its client's number; 3: frames carry an envelope and a signature (2: neither). */
export const wireVersion = 4;
const magic = 0xab;
const headerStart = 8;
/** The signature's bytes at the end of every frame. */
export const macLength = 32;

/** Who is in the cluster: an actor host's heartbeat (or its last word, with `leaving`). */
export interface HeartbeatMessage {
  readonly kind: 'heartbeat';
  /** Its actor threads, all started: members <sender>/0 .. <sender>/(threads-1). */
  readonly threads: number;
  /** SIGTERM: take no new keys here; what it holds is still answered. */
  readonly leaving?: boolean;
}

/** A gateway's message to one actor thread (the thread is in the subject). */
export type ToHost = DispatchMessage | Extract<ThreadMessage, {kind: 'withdraw'}>;

/** An actor host's results for one gateway, from one of its threads. */
export type ToGateway = ResultsMessage & {readonly thread: number};

export type WireMessage = ToHost | ToGateway | HeartbeatMessage;

/** Who sent a frame, inside the signed part: a receiver checks each field (src/cluster/wire.ts). */
export interface Envelope {
  /** The sender's node name, a subject token (NATS permissions bind it to a credential). */
  readonly sender: string;
  /** Random per start of the sender's process: a restarted node is a new peer. */
  readonly boot: string;
  /** 1, 2, 3… per frame the sender signed since it started (replays are refused by it). */
  readonly seq: number;
  /** The sender's Date.now() when it signed (stale frames are refused by it). */
  readonly ts: number;
}

export type Frame = WireMessage & Envelope;

/** Why bytes were not read as a frame (each a metric label and a log field). */
export const decodeProblems = [
  'not_a_frame',
  'other_version',
  'bad_header',
  'bad_columns',
  'bad_parts',
  'bad_vectors',
  'bad_results',
] as const;
export type DecodeProblem = (typeof decodeProblems)[number];

export type Decoded =
  | {readonly ok: true; readonly frame: Frame}
  | {readonly ok: false; readonly problem: DecodeProblem; readonly detail?: string};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', {fatal: true});

/** The frame of `message` from `envelope`'s sender, its signature left zero (src/cluster/signing.ts signs it). */
export function encode(message: WireMessage, envelope: Envelope): Uint8Array {
  const names = columnsOf[message.kind] ?? [];
  const fields = message as unknown as Record<string, Float64Array>;
  const columns = names.map((name) => fields[name]);
  const header = encoder.encode(
    JSON.stringify({
      ...message,
      ...Object.fromEntries(names.map((n) => [n, undefined])),
      ...(columns.length > 0 && {columns: columns.map((c) => c.length)}),
      sender: envelope.sender,
      boot: envelope.boot,
      seq: envelope.seq,
      ts: envelope.ts,
    }),
  );
  const dataStart = headerStart + Math.ceil(header.length / 8) * 8;
  let floats = 0;
  for (const column of columns) floats += column.length;
  const bytes = new Uint8Array(dataStart + floats * 8 + macLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = magic;
  bytes[1] = wireVersion;
  view.setUint32(4, header.length, true);
  bytes.set(header, headerStart);
  const out = new Float64Array(bytes.buffer, dataStart, floats);
  let at = 0;
  for (const column of columns) {
    out.set(column, at);
    at += column.length;
  }
  return bytes;
}

/**
 * Whether `bytes` can be a frame of this version at all (magic, version, room for a header and
 * the signature): checked before the signature, so that an old peer is told apart from a forger.
 */
export function preambleProblem(bytes: Uint8Array): {problem: DecodeProblem; detail?: string} | undefined {
  if (bytes.length < headerStart || bytes[0] !== magic) return {problem: 'not_a_frame'};
  if (bytes[1] !== wireVersion)
    return {problem: 'other_version', detail: `protocol version ${bytes[1]}, expected ${wireVersion}`};
  if (bytes.length < headerStart + macLength) return {problem: 'not_a_frame', detail: 'too short to hold a signature'};
  return undefined;
}

/** The bytes the signature covers (all but the signature). */
export const signedPart = (bytes: Uint8Array): Uint8Array => bytes.subarray(0, bytes.length - macLength);
/** The signature's bytes. */
export const signatureOf = (bytes: Uint8Array): Uint8Array => bytes.subarray(bytes.length - macLength);

/**
 * Reads a frame whose signature was checked (src/cluster/wire.ts checks it first): its header
 * against its kind's schema, its columns against each other. The signature is not read here.
 */
export function decode(bytes: Uint8Array): Decoded {
  const preamble = preambleProblem(bytes);
  if (preamble) return {ok: false, ...preamble};
  const body = signedPart(bytes);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const length = view.getUint32(4, true);
  if (headerStart + length > body.length)
    return {ok: false, problem: 'bad_header', detail: 'header longer than the frame'};
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body.subarray(headerStart, headerStart + length)));
  } catch {
    return {ok: false, problem: 'bad_header', detail: 'not UTF-8 JSON'};
  }
  const parsed = header.safeParse(json);
  if (!parsed.success)
    return {ok: false, problem: 'bad_header', detail: parsed.error.issues[0].path.join('.') || 'kind'};
  const frame = parsed.data as Frame & {columns?: number[]};
  const names = columnsOf[frame.kind];
  if (!names) return {ok: true, frame};
  const lengths = frame.columns ?? [];
  const dataStart = headerStart + Math.ceil(length / 8) * 8;
  const floats = lengths.reduce((a, b) => a + b, 0);
  if (body.length !== dataStart + floats * 8) return {ok: false, problem: 'bad_columns'};
  // Copied out, aligned: the frame's buffer may be shared and need not be 8-aligned.
  const all = new Float64Array(floats);
  new Uint8Array(all.buffer).set(body.subarray(dataStart));
  const decoded: Record<string, unknown> = {...frame, columns: undefined};
  let at = 0;
  names.forEach((name, i) => {
    decoded[name] = all.subarray(at, at + lengths[i]);
    at += lengths[i];
  });
  const problem =
    frame.kind === 'dispatch'
      ? dispatchProblem(decoded as unknown as DispatchMessage)
      : resultsProblem(decoded as unknown as ResultsMessage);
  if (problem) return {ok: false, problem};
  return {ok: true, frame: decoded as unknown as Frame};
}
