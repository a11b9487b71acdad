// The messages of src/protocol/messages.ts as bytes, for the trip between processes over NATS
// (between threads they cross a MessagePort as they are). One frame per message:
//
//   offset  size  field
//   0       1     magic 0xAB
//   1       1     protocol version (wireVersion)
//   2       2     reserved, 0
//   4       4     header length H (uint32, little-endian)
//   8       H     header: the message as UTF-8 JSON, without the vectors
//   8+H     pad   zeros up to the next multiple of 8
//   ...     8·n   a dispatch's vectors, back to back, as raw float64 (little-endian), n = data.length
//
// JSON keeps every float64 of a result exact (shortest round-trip form); the vectors, the bulk of
// a dispatch, travel as raw bytes and are read back as a Float64Array view without parsing.
// A frame of another version is refused whole (decode says so), never half-read.

import type {DispatchMessage, HostMessage, ResultsMessage} from './messages.ts';

export const wireVersion = 1;
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

export function encode(message: WireMessage): Uint8Array {
  const data = message.kind === 'dispatch' ? message.data : undefined;
  const header = encoder.encode(JSON.stringify(data ? {...message, data: undefined} : message));
  const dataStart = headerStart + Math.ceil(header.length / 8) * 8;
  const bytes = new Uint8Array(dataStart + (data ? data.length * 8 : 0));
  const view = new DataView(bytes.buffer);
  bytes[0] = magic;
  bytes[1] = wireVersion;
  view.setUint32(4, header.length, true);
  bytes.set(header, headerStart);
  if (data) new Float64Array(bytes.buffer, dataStart, data.length).set(data);
  return bytes;
}

export function decode(bytes: Uint8Array): Decoded {
  if (bytes.length < headerStart || bytes[0] !== magic) return {ok: false, reason: 'not an agent-batcher frame'};
  if (bytes[1] !== wireVersion) return {ok: false, reason: `protocol version ${bytes[1]}, expected ${wireVersion}`, version: bytes[1]};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(4, true);
  if (headerStart + length > bytes.length) return {ok: false, reason: 'frame cut short'};
  let message: WireMessage & {data?: unknown};
  try {
    message = JSON.parse(decoder.decode(bytes.subarray(headerStart, headerStart + length)));
  } catch {
    return {ok: false, reason: 'malformed header'};
  }
  if (message.kind === 'dispatch') {
    const dataStart = headerStart + Math.ceil(length / 8) * 8;
    const floats = (bytes.length - dataStart) / 8;
    if (!Number.isInteger(floats) || floats < 0) return {ok: false, reason: 'malformed vectors'};
    // Copied out, aligned: the frame's buffer may be shared and need not be 8-aligned.
    const data = new Float64Array(floats);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart, dataStart + floats * 8));
    return {ok: true, message: {...message, data} as WireMessage};
  }
  return {ok: true, message};
}

/**
 * Splits a dispatch whose frame would exceed `maxBytes` (the NATS server's max_payload) into
 * several, each with whole parts and its own packed vectors.
 */
export function splitDispatch<T extends DispatchMessage>(message: T, maxBytes: number): T[] {
  const budget = Math.max(1, Math.floor((maxBytes - 64 * 1024) / 8));
  let floats = 0;
  for (const p of message.parts) floats += p.length;
  if (floats <= budget) return [message];
  const out: T[] = [];
  let start = 0;
  while (start < message.parts.length) {
    let end = start;
    let used = 0;
    while (end < message.parts.length && (end === start || used + message.parts[end].length <= budget)) used += message.parts[end++].length;
    const parts = message.parts.slice(start, end);
    const data = new Float64Array(used);
    let offset = 0;
    const moved = parts.map((p) => {
      data.set(message.data.subarray(p.offset, p.offset + p.length), offset);
      const part = {...p, offset};
      offset += p.length;
      return part;
    });
    out.push({...message, parts: moved, data});
    start = end;
  }
  return out;
}
