// Triton's binary tensor data extension to the Open Inference Protocol (triton-inference-server/
// server, docs/protocol/extension_binary_data.md), both ways, for the client
// (workers/backend/v2.ts) and the stand-in (src/simulator/v2.ts), which is why it lives below both:
//
//   body = <JSON inference request or response> <tensor bytes> <tensor bytes> …
//   Inference-Header-Content-Length: the JSON's length in bytes (Content-Length stays the whole body)
//
// A tensor sent as binary carries `"parameters": {"binary_data_size": <bytes>}` and its bytes
// follow the JSON in the order the tensors are listed; elements are little-endian, row-major,
// without stride or padding, in the datatype's native size. An output is asked for as binary with
// `"parameters": {"binary_data": true}`. Every size here is checked against the body: a header
// length that does not fit, or sizes that do not add up to exactly the bytes after the JSON, is a
// refusal (`backend_bad_response` for a reply, 400 for a request), never a read past the data.

import type {V2Datatype} from '../config.ts';

export const headerLengthHeader = 'inference-header-content-length';

export const elementBytes: Readonly<Record<V2Datatype, number>> = {FP32: 4, FP64: 8};

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A framing problem; the client makes it `backend_bad_response`, the stand-in a 400. */
export class FramingError extends Error {
  override name = 'FramingError';
}

/** The JSON part and the binary part of a body, or undefined when the header is absent (all JSON). */
export function splitBody(
  body: Buffer,
  headerLength: string | string[] | undefined,
): {json: Buffer; binary: Buffer} | undefined {
  if (headerLength === undefined) return undefined;
  const text = Array.isArray(headerLength) ? headerLength[0] : headerLength;
  const length = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(length >= 2 && length <= body.length)) {
    throw new FramingError(
      `Inference-Header-Content-Length ${shown(text)} does not fit a body of ${body.length} bytes`,
    );
  }
  return {json: body.subarray(0, length), binary: body.subarray(length)};
}

/** A value the peer sent, shown briefly: a short string or number as JSON, else what kind of thing it is (never stringified whole). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'a list' : 'an object';
}

/** A tensor's `parameters.binary_data_size`, or undefined when it is sent as JSON. */
export function binaryDataSize(tensor: unknown): number | undefined {
  const size = (tensor as {parameters?: {binary_data_size?: unknown}} | null)?.parameters?.binary_data_size;
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new FramingError(`binary_data_size ${shown(size)} is not a size in bytes`);
  return size;
}

/**
 * The bytes of each tensor sent as binary (by its index in `tensors`), taken in order from
 * `binary`; the sizes must add up to exactly `binary.length`.
 */
export function binarySlices(tensors: readonly unknown[], binary: Buffer): Map<number, Buffer> {
  const slices = new Map<number, Buffer>();
  let offset = 0;
  for (let i = 0; i < tensors.length; i++) {
    const size = binaryDataSize(tensors[i]);
    if (size === undefined) continue;
    if (offset + size > binary.length) break;
    slices.set(i, binary.subarray(offset, offset + size));
    offset += size;
  }
  const declared = tensors.reduce<number>((sum, t) => sum + (binaryDataSize(t) ?? 0), 0);
  if (declared !== binary.length) {
    throw new FramingError(
      `the tensors' binary_data_size add up to ${declared} bytes, but ${binary.length} bytes follow the JSON header`,
    );
  }
  return slices;
}

/** Floats from little-endian bytes (a view when aligned on a little-endian machine, else a copy). */
export function floatsFromBytes(bytes: Buffer, datatype: V2Datatype): Float32Array | Float64Array {
  const size = elementBytes[datatype];
  if (bytes.length % size !== 0)
    throw new FramingError(`${bytes.length} bytes are not a whole number of ${datatype} elements`);
  let source = bytes;
  if (bytes.byteOffset % size !== 0 || !littleEndian) {
    source = Buffer.from(new Uint8Array(bytes));
    if (!littleEndian) size === 4 ? source.swap32() : source.swap64();
  }
  const Floats = datatype === 'FP32' ? Float32Array : Float64Array;
  return new Floats(source.buffer as ArrayBuffer, source.byteOffset, bytes.length / size);
}

/** The rows as one row-major tensor of `datatype` (FP32 rounds each value to the nearest float32). */
export function rowsTensor(rows: readonly ArrayLike<number>[], datatype: V2Datatype): Float32Array | Float64Array {
  const d = rows.length === 0 ? 0 : rows[0].length;
  const tensor = datatype === 'FP32' ? new Float32Array(rows.length * d) : new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) tensor.set(rows[i], i * d);
  return tensor;
}

/** The tensor's elements as little-endian bytes. */
export function floatsToBytes(values: Float32Array | Float64Array): Buffer {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (littleEndian) return bytes;
  const swapped = Buffer.from(new Uint8Array(bytes));
  return values.BYTES_PER_ELEMENT === 4 ? swapped.swap32() : swapped.swap64();
}

/** A body of the JSON header followed by the tensors' bytes, and the header's length in bytes. */
export function binaryBody(header: string, tensors: readonly Buffer[]): {body: Buffer; headerLength: number} {
  const json = Buffer.from(header, 'utf8');
  return {body: Buffer.concat([json, ...tensors]), headerLength: json.length};
}
