// JSON on the wire, as the clients of the three HTTP protocols (ours, v2, tfserving) send and read
// it. How rows are written and how TF Serving's non-finite tokens are read, which the stand-in
// shares, is src/protocol/json-floats.ts.

import {nonFiniteAsNull} from '../../src/protocol/json-floats.ts';
import {BackendError} from './backend.ts';

/**
 * A reply body as JSON, or `backend_bad_response` naming `what`. TF Serving writes a non-finite
 * float as the bare tokens `NaN`, `Infinity` and `-Infinity` ("JSON conformance" in its REST API
 * page), which JSON.parse refuses: those are read as null, a non-finite value that fails its row
 * only, never the whole reply.
 */
export function parseJsonReply(body: Buffer | string, what: string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
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

export const jsonHeaders: Readonly<Record<string, string>> = Object.freeze({'content-type': 'application/json'});
