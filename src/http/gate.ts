// The gate: what POST /predict checks before its body is read, in order: readiness, the heap,
// the bearer key, the media type, the declared size. A request refused here costs no parsing.

import {createHash, timingSafeEqual} from 'node:crypto';
import type {Context} from 'koa';
import {refusalMessages} from '../coordinator/admission.ts';
import {Errors, HttpError} from '../errors.ts';

export type Readiness = 'starting' | 'ready' | 'draining' | 'unavailable';

export const notReadyWhy: Record<Exclude<Readiness, 'ready'>, string> = {
  starting: 'service is starting',
  draining: 'service is shutting down',
  unavailable: 'no actor threads are reachable',
};

/**
 * The gate: what /predict checks before reading the body, in order: readiness (503 not_ready while
 * draining or without reachable threads; starting is let through, to be held), the heap
 * (503 overloaded past MAX_HEAP_FRACTION of its limit), bearer key when API_KEYS is set (401;
 * compared in constant time, every key compared), media type (415), a Content-Length above
 * `maxBodyBytes` (413 at once: not a byte of the body is read, however large the number).
 */
export function gate(
  readiness: () => Readiness,
  keys: readonly string[],
  heapFull: () => boolean,
  refusedForHeap: () => void,
  maxBodyBytes: number,
) {
  const digests = keys.map((k) => createHash('sha256').update(k).digest());
  return (ctx: Context): void => {
    const state = readiness();
    if (state !== 'ready' && state !== 'starting') throw Errors.notReady(notReadyWhy[state]);
    if (heapFull()) {
      refusedForHeap();
      throw Errors.overloaded(refusalMessages.heap_full, 1);
    }
    if (digests.length > 0) {
      const match = /^Bearer +(\S+) *$/i.exec(ctx.get('authorization'));
      const given = createHash('sha256')
        .update(match ? match[1] : '')
        .digest();
      // Every key is compared, whichever matches: the time taken says nothing about the keys.
      let matched = -1;
      for (let i = 0; i < digests.length; i++) if (timingSafeEqual(digests[i], given) && matched < 0) matched = i;
      if (!match || matched < 0) throw Errors.unauthorized();
      // The client, for its share of the limits, is its key (by position: keys never leave config).
      ctx.state.client = `key:${matched}`;
    } else {
      ctx.state.client = `addr:${ctx.request.ip}`;
    }
    checkMediaType(ctx);
    // Node's parser lets only digits through; a chunked body is limited as it is read (body.ts).
    if (Number(ctx.req.headers['content-length']) > maxBodyBytes) throw Errors.payloadTooLarge(maxBodyBytes);
  };
}

/** The body's type as DESIGN says: JSON, in UTF-8 if a charset is named (415 otherwise). */
function checkMediaType(ctx: Context): void {
  const {headers} = ctx.req;
  const type = headers['content-type'];
  // What nearly every client sends, with a body, needs no parsing.
  const hasBody = headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
  if (hasBody && (type === 'application/json' || type === 'application/json; charset=utf-8')) return;
  if (ctx.is('application/json') !== 'application/json') throw Errors.unsupportedMediaType();
  const charset = ctx.request.charset.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `the body must be UTF-8 JSON (got charset=${charset.slice(0, 32)})`,
    );
  }
}
