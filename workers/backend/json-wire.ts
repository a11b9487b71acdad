// JSON on the wire, as the clients of the three HTTP protocols (ours, v2, tfserving) send and read
// it. How rows are written and how TF Serving's non-finite tokens are read, which the stand-in
// shares, is src/protocol/json-floats.ts.
//
// A reply is a stranger's text: before it is parsed, one pass over its bytes measures how deep it
// nests and how many values it holds, and refuses it past the bounds its use allows. JSON.parse
// itself copes with any depth, but what reads the result afterwards (JSON.stringify for a message,
// String(), a log serializer) recurses and would throw RangeError on 100,000 nested `[`; and a
// reply within the byte cap may still hold millions of tiny values (`[[],[],…]` costs about 30
// bytes of heap per 3 bytes of text).

import {nonFiniteAsNull} from '../../src/protocol/json-floats.ts';
import {BackendError} from './backend.ts';

/** How deep a JSON text may nest and how many values (numbers, strings, lists, objects…) it may hold. */
export interface JsonBounds {
  readonly maxDepth: number;
  readonly maxValues: number;
}

/** A reply's bounds for a batch of `rows` rows: one or two values per row, and room for a server's extra words. */
export function replyBounds(rows: number): JsonBounds {
  return {maxDepth: 32, maxValues: 64 * rows + 65_536};
}

/**
 * Why the text breaks the bounds (one short sentence), or undefined when it does not. It counts
 * containers and the commas between values outside strings, byte by byte: a UTF-8 byte of a
 * multi-byte character is never one of the ASCII marks it looks for.
 */
export function jsonBoundsProblem(bytes: Uint8Array, bounds: JsonBounds): string | undefined {
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > bounds.maxDepth) return `nests deeper than ${bounds.maxDepth} levels`;
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++values > bounds.maxValues) return `holds more than ${bounds.maxValues} values`;
  }
  return undefined;
}

/** JSON.parse within `bounds`; throws a SyntaxError, or an Error saying which bound the text breaks. */
export function parseBoundedJson(body: Buffer | string, bounds: JsonBounds): unknown {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const problem = jsonBoundsProblem(bytes, bounds);
  if (problem) throw new Error(problem);
  return JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
}

/**
 * A reply body as JSON, or `backend_bad_response` naming `what` (and the bound it breaks, if it
 * does). TF Serving writes a non-finite float as the bare tokens `NaN`, `Infinity` and
 * `-Infinity` ("JSON conformance" in its REST API page), which JSON.parse refuses: those are read
 * as null, a non-finite value that fails its row only, never the whole reply.
 */
export function parseJsonReply(body: Buffer | string, what: string, bounds: JsonBounds): unknown {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const problem = jsonBoundsProblem(bytes, bounds);
  if (problem) throw new BackendError('backend_bad_response', `${what} ${problem}`);
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    if (text.includes('NaN') || text.includes('Infinity')) {
      try {
        return JSON.parse(nonFiniteAsNull(text));
      } catch {}
    }
    throw new BackendError('backend_bad_response', `${what} is not JSON`);
  }
}

/**
 * A value from a reply, shown briefly in a message without recursing into it (a hostile reply's
 * value may nest 100,000 deep): a string quoted and cut, a number, or what kind of thing it is.
 */
export function brief(value: unknown, limit = 64): string {
  if (typeof value === 'string') return JSON.stringify(value.length > limit ? `${value.slice(0, limit)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) {
    const flat = value.length <= 8 && value.every((v) => typeof v === 'number');
    return flat ? `[${value.join(',')}]` : `a list of ${value.length}`;
  }
  return value === undefined ? 'none' : 'an object';
}

export const jsonHeaders: Readonly<Record<string, string>> = Object.freeze({'content-type': 'application/json'});
