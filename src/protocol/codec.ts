// The messages of src/protocol/messages.ts as bytes, for the trip between processes over NATS
// (between threads they cross a MessagePort as they are). One frame per message:
//
//   offset  size  field
//   0       1     magic 0xAB
//   1       1     protocol version (wireVersion)
//   2       2     reserved, 0
//   4       4     header length H (uint32, little-endian)
//   8       H     header: the message as UTF-8 JSON, without its columns
//   8+H     pad   zeros up to the next multiple of 8
//   ...     8·n   each column (a dispatch's parts and vectors, a results message's results), back
//                 to back as raw float64 (little-endian); the header's `columns` gives their lengths
//
// JSON keeps every float64 exact (shortest round-trip form), but the columns, the bulk of a frame,
// travel as raw bytes and are read back without parsing. A frame of another version is refused
// whole (decode says so), never half-read; so is one whose columns do not add up.

import {z} from 'zod';
import {maxActorPoolSize} from '../config.ts';
import {agentErrorCodes} from '../errors.ts';
import {keySeparator} from './mailbox-key.ts';
import type {DispatchMessage, HostMessage, ResultsMessage} from './messages.ts';
import {Outcome, PartField, partStride, ResultField, resultStride} from './messages.ts';

export const wireVersion = 2;
const magic = 0xab;
const headerStart = 8;

/** Who is in the cluster: an actor host's heartbeat (or its last word, with `leaving`). */
export interface HeartbeatMessage {
  readonly kind: 'heartbeat';
  /** The actor host's id, unique in the cluster. */
  readonly host: string;
  /** Its actor threads: members host/0 .. host/(threads-1). */
  readonly threads: number;
  /** SIGTERM: take no new keys here; what it holds is still answered. */
  readonly leaving?: boolean;
}

/** A gateway's message to one actor thread, with the gateway's id for the answers. */
export type ToHost = (DispatchMessage | Extract<HostMessage, {kind: 'withdraw'}>) & {readonly from: string};

export type WireMessage = ToHost | ResultsMessage | HeartbeatMessage;

export type Decoded =
  | {readonly ok: true; readonly message: WireMessage}
  | {readonly ok: false; readonly reason: string; readonly version?: number};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', {fatal: true});

const mailboxKey = z.string().max(512).includes(keySeparator);
const peerId = z.string().min(1).max(256);
/** The Float64Array fields of each kind of message, in frame order. */
const columnsOf: Partial<Record<WireMessage['kind'], readonly string[]>> = {dispatch: ['parts', 'data'], results: ['results']};
/** The header's `columns`: each column's length, one per field of columnsOf. */
const columnLengths = (kind: 'dispatch' | 'results') => z.array(z.int().nonnegative()).length(columnsOf[kind]?.length ?? 0);

/**
 * Each kind of frame's header, as a peer must send it: a frame that parses as JSON but not as
 * this is refused whole, before any handler reads a field of it.
 */
const header = z.discriminatedUnion('kind', [
  z.object({kind: z.literal('heartbeat'), host: peerId, threads: z.int().min(1).max(maxActorPoolSize), leaving: z.boolean().optional()}),
  z.object({kind: z.literal('dispatch'), from: peerId, keys: z.array(mailboxKey), columns: columnLengths('dispatch')}),
  z.object({kind: z.literal('withdraw'), from: peerId, withdrawals: z.array(z.object({key: mailboxKey, partIds: z.array(z.number())}))}),
  z.object({
    kind: z.literal('results'),
    columns: columnLengths('results'),
    errors: z.array(z.object({code: z.enum(agentErrorCodes), message: z.string()})),
    batches: z.array(z.object({id: z.string().max(512), size: z.int().positive()})),
    reports: z.array(
      z.object({
        key: mailboxKey,
        size: z.int().nonnegative(),
        backendMs: z.number().nonnegative(),
        result: z.enum(['ok', 'partial', ...agentErrorCodes]),
        waitsMs: z.array(z.number()),
        windowMs: z.number().nonnegative(),
      }),
    ),
  }),
]);

export function encode(message: WireMessage): Uint8Array {
  const names = columnsOf[message.kind] ?? [];
  const fields = message as unknown as Record<string, Float64Array>;
  const columns = names.map((name) => fields[name]);
  const header = encoder.encode(
    JSON.stringify(columns.length === 0 ? message : {...message, ...Object.fromEntries(names.map((n) => [n, undefined])), columns: columns.map((c) => c.length)}),
  );
  const dataStart = headerStart + Math.ceil(header.length / 8) * 8;
  let floats = 0;
  for (const column of columns) floats += column.length;
  const bytes = new Uint8Array(dataStart + floats * 8);
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

export function decode(bytes: Uint8Array): Decoded {
  if (bytes.length < headerStart || bytes[0] !== magic) return {ok: false, reason: 'not an agent-batcher frame'};
  if (bytes[1] !== wireVersion) return {ok: false, reason: `protocol version ${bytes[1]}, expected ${wireVersion}`, version: bytes[1]};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(4, true);
  if (headerStart + length > bytes.length) return {ok: false, reason: 'frame cut short'};
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes.subarray(headerStart, headerStart + length)));
  } catch {
    return {ok: false, reason: 'malformed header'};
  }
  const parsed = header.safeParse(json);
  if (!parsed.success) return {ok: false, reason: `malformed header: ${parsed.error.issues[0].path.join('.') || 'kind'}`};
  const message = parsed.data as WireMessage & {columns?: number[]};
  const names = columnsOf[message.kind];
  if (!names) return {ok: true, message};
  const lengths = message.columns ?? [];
  const dataStart = headerStart + Math.ceil(length / 8) * 8;
  const floats = lengths.reduce((a, b) => a + b, 0);
  if (bytes.length !== dataStart + floats * 8) return {ok: false, reason: 'malformed columns'};
  // Copied out, aligned: the frame's buffer may be shared and need not be 8-aligned.
  const all = new Float64Array(floats);
  new Uint8Array(all.buffer).set(bytes.subarray(dataStart));
  const decoded: Record<string, unknown> = {...message, columns: undefined};
  let at = 0;
  names.forEach((name, i) => {
    decoded[name] = all.subarray(at, at + lengths[i]);
    at += lengths[i];
  });
  const problem = message.kind === 'dispatch' ? dispatchProblem(decoded as unknown as DispatchMessage) : resultsProblem(decoded as unknown as ResultsMessage);
  if (problem) return {ok: false, reason: problem};
  return {ok: true, message: decoded as unknown as WireMessage};
}

/** Why a dispatch's columns cannot be read as it says, if they cannot. */
function dispatchProblem({keys, parts, data}: DispatchMessage): string | undefined {
  if (parts.length % partStride !== 0) return 'malformed parts';
  let floats = 0;
  for (let at = 0; at < parts.length; at += partStride) {
    const keyIndex = parts[at + PartField.keyIndex];
    const n = parts[at + PartField.length];
    if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex >= keys.length || !Number.isInteger(n) || n < 1) return 'malformed parts';
    floats += n;
  }
  return floats === data.length ? undefined : 'malformed vectors';
}

/** Why a results message's columns cannot be read as it says, if they cannot. */
function resultsProblem({results, errors, batches}: ResultsMessage): string | undefined {
  if (results.length % resultStride !== 0) return 'malformed results';
  for (let at = 0; at < results.length; at += resultStride) {
    const outcome = results[at + ResultField.outcome];
    const batch = results[at + ResultField.batch];
    const value = results[at + ResultField.value];
    if (batch !== -1 && !(Number.isInteger(batch) && batch >= 0 && batch < batches.length)) return 'malformed results';
    if (outcome === Outcome.prediction && batch === -1) return 'malformed results';
    if (outcome === Outcome.error && !(Number.isInteger(value) && value >= 0 && value < errors.length)) return 'malformed results';
    if (outcome !== Outcome.prediction && outcome !== Outcome.error && outcome !== Outcome.withdrawn) return 'malformed results';
  }
  return undefined;
}

/**
 * Splits a dispatch whose frame would exceed `maxBytes` (the NATS server's max_payload) into
 * several, each with whole parts and its own packed vectors.
 */
export function splitDispatch<T extends DispatchMessage>(message: T, maxBytes: number): T[] {
  const budget = Math.max(1, Math.floor((maxBytes - 64 * 1024) / 8));
  const {parts, data} = message;
  if (parts.length + data.length <= budget) return [message];
  const out: T[] = [];
  let start = 0;
  let offset = 0;
  while (start < parts.length) {
    let end = start;
    let used = 0;
    // At least one part per piece, however long its vector.
    while (end < parts.length && (end === start || used + partStride + parts[end + PartField.length] <= budget)) {
      used += partStride + parts[end + PartField.length];
      end += partStride;
    }
    let floats = 0;
    for (let at = start; at < end; at += partStride) floats += parts[at + PartField.length];
    out.push({...message, parts: parts.slice(start, end), data: data.slice(offset, offset + floats)});
    offset += floats;
    start = end;
  }
  return out;
}
