// The front middleware, in front of every route: the request id (echoed or generated), every
// error shaped into the contract's body, the security headers set as the answer goes out, the
// request metric and one log line; and an early answer's unread body read and dropped before the
// connection closes.

import {randomUUID} from 'node:crypto';
import type {IncomingMessage} from 'node:http';
import type {Context, Next} from 'koa';
import type {Logger} from 'pino';
import {Errors, HttpError} from '../errors.ts';
import {routes} from './routes.ts';

/** What the front end keeps per request in ctx.state. */
export interface State {
  requestId: string;
  /** Who sent the request, for the per-client shares (set before the body is read). */
  client: string;
  /** The body's raw bytes, for the UTF-8 check (uncompressed bodies). */
  bodyChunks?: Buffer[];
  agents?: number;
}

export type FrontContext = Context & {state: State};

/** Where the front middleware counts every request it answered (the metrics). */
export interface RequestCounter {
  request(path: string, method: string, status: number): void;
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * A new request id, as one flat string. Node builds randomUUID()'s result by concatenation: a
 * rope of about 15 string pieces, 488 bytes kept alive per id against 64 flat (measured), for as
 * long as the request waits. V8 flattens a string in place when a regular expression runs on it.
 */
function newRequestId(): string {
  const id = randomUUID();
  requestIdPattern.test(id);
  return id;
}

const securityHeaders: readonly (readonly [string, string])[] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];

/**
 * The request id and security headers, set as the answer goes out, not when the request comes
 * in: a request held seconds for its backend would otherwise keep a header table alive all
 * that time (about 0.9 KB each, measured with bench/heap.ts).
 */
export function setAnswerHeaders(ctx: FrontContext): void {
  const res = ctx.res;
  if (res.headersSent) return;
  res.setHeader('X-Request-Id', ctx.state.requestId);
  // A route's own choice stands (the docs page sets a policy that lets its script run).
  for (const [name, value] of securityHeaders) if (!res.hasHeader(name)) res.setHeader(name, value);
}

/** A refused body's rest is read and dropped for at most this long before the connection closes. */
const drainMs = 5000;
/** ... and at most this many bytes of it (or MAX_BODY_BYTES, if larger). */
export const minDrainBytes = 8 << 20;

/**
 * An answer given before the request's body was read whole (413, 401, 415, 503 not_ready or
 * heap_full, 404 …) closes the connection: what is left of the body cannot be taken for the next
 * request. Closing a socket with bytes still unread in it resets the connection (RST), and a
 * client that has not yet read the answer loses it, so the rest of the body is read and dropped
 * first, up to `limitBytes` and drainMs; past either, or for a Content-Length beyond them, the
 * answer goes out at once and the client may see a reset.
 */
function dropUnreadBody(req: IncomingMessage, limitBytes: number): Promise<void> {
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes || req.destroyed) return Promise.resolve();
  const {promise, resolve} = Promise.withResolvers<void>();
  let left = limitBytes;
  const count = (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) done();
  };
  const timer = setTimeout(() => done(), drainMs);
  function done() {
    clearTimeout(timer);
    req.off('data', count).off('end', done).off('close', done).off('error', done);
    resolve();
  }
  req.on('data', count).once('end', done).once('close', done).once('error', done);
  req.resume();
  return promise;
}

/**
 * The front middleware: request id (echoed or generated), security headers, every error shaped
 * into `{error: {code, message, details?}}` (unexpected ones say only internal_error), the request
 * metric and one log line. POST /predict is served here directly; everything else goes on to the
 * router.
 */
export function front(
  log: Logger,
  metrics: RequestCounter,
  predictRoute: (ctx: FrontContext) => Promise<void>,
  drainBytes: number,
) {
  return async (ctx: FrontContext, next: Next) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const requestId = requestIdPattern.test(given) ? given : newRequestId();
    ctx.state.requestId = requestId;
    try {
      if (ctx.method === 'POST' && ctx.path === routes.predict) await predictRoute(ctx);
      else {
        await next();
        if (ctx.body == null && ctx.status === 404) throw Errors.notFound();
        if (ctx.body == null && ctx.status === 405) throw Errors.methodNotAllowed();
        if (ctx.body == null && ctx.status === 501)
          throw new HttpError(501, 'not_implemented', 'method not implemented');
      }
    } catch (error) {
      if (error instanceof HttpError) {
        ctx.status = error.status;
        ctx.set(error.headers);
        ctx.body = {error: {code: error.code, message: error.message, ...(error.details && {details: error.details})}};
      } else {
        log.child({requestId}).error({err: error}, 'unhandled error');
        ctx.status = 500;
        ctx.body = {error: {code: 'internal_error', message: `internal error; request id ${requestId}`}};
      }
      if (!ctx.req.complete) {
        ctx.state.bodyChunks = undefined;
        await dropUnreadBody(ctx.req, drainBytes);
        ctx.set('Connection', 'close');
      }
    } finally {
      setAnswerHeaders(ctx);
      metrics.request(ctx.path, ctx.method, ctx.status);
      if (log.isLevelEnabled('info')) {
        log.info(
          {
            requestId,
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            agents: ctx.state.agents,
            ms: Math.round((performance.now() - started) * 10) / 10,
          },
          'request',
        );
      }
    }
  };
}
