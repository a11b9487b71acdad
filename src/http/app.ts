// The Koa front end: request id, error shaping, auth, body parsing, validation, then the
// coordinator. Handlers throw HttpErrors; one middleware turns every error into the contract's
// body, and logs one line per request.

import {isUtf8} from 'node:buffer';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {PassThrough} from 'node:stream';
import {createHash, randomUUID, timingSafeEqual} from 'node:crypto';
import Koa from 'koa';
import type {Context, Next} from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import {Errors, HttpError} from '../errors.ts';
import {refusalMessages} from '../coordinator/admission.ts';
import type {AgentOutcome, Submitter, Ticket} from '../coordinator/api.ts';
import type {Metrics} from '../metrics.ts';
import {docsAsset, docsPage} from './docs.ts';
import {heapGuard} from './heap-guard.ts';
import {describeRegistry} from '../registry.ts';
import type {Registry} from '../registry.ts';
import {openApiDocument} from './openapi.ts';
import {routes} from './routes.ts';
import {createSchemas, parsePredictRequest} from './schemas.ts';
import type {AgentResult, PredictResponse, Schemas} from './schemas.ts';

export type Readiness = 'starting' | 'ready' | 'draining' | 'unavailable';

export interface AppDeps {
  readonly config: Config;
  readonly coordinator: Submitter;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly version: string;
  /** Read on every request: the service flips it while starting and draining. */
  readonly readiness: () => Readiness;
  /** Resolves when the service is no longer starting (ready, or draining first). */
  readonly started: () => Promise<void>;
  /** The model registry now (SIGHUP may replace it). */
  readonly registry: () => Registry;
}

interface State {
  requestId: string;
  /** Who sent the request, for the per-client shares (set before the body is read). */
  client: string;
  /** The body's raw bytes, for the UTF-8 check (uncompressed bodies). */
  bodyChunks?: Buffer[];
  agents?: number;
}

const notReadyWhy: Record<Exclude<Readiness, 'ready'>, string> = {
  starting: 'service is starting',
  draining: 'service is shutting down',
  unavailable: 'no actor threads are reachable',
};

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
function setAnswerHeaders(ctx: Context & {state: State}): void {
  const res = ctx.res;
  if (res.headersSent) return;
  res.setHeader('X-Request-Id', ctx.state.requestId);
  // A route's own choice stands (the docs page sets a policy that lets its script run).
  for (const [name, value] of securityHeaders) if (!res.hasHeader(name)) res.setHeader(name, value);
}

export function createApp(deps: AppDeps): Koa<State> {
  const {config, coordinator, log, metrics} = deps;
  const schemas = createSchemas(config);
  const openapi = JSON.stringify(openApiDocument(schemas, {version: deps.version, secured: config.apiKeys.length > 0}));
  const app = new Koa<State>();
  app.proxy = false;
  // Errors are logged by our middleware; Koa's own handler would print them to stderr.
  app.silent = true;

  const parseBody = bodyParser({
    enableTypes: ['json'],
    jsonLimit: String(config.maxBodyBytes),
    // Any JSON value is parsed (`null`, `3`, `[]` are JSON): the schema answers them with 422.
    strict: false,
    // A "__proto__" agent id is valid JSON and a valid id: keep it as an own key (it is only
    // ever read with Object.keys and written with Object.fromEntries) instead of refusing it.
    ...{onProtoPoisoning: 'ignore'},
    onerror: (error: Error & {status?: number; type?: string}) => {
      throw translateParserError(error, config.maxBodyBytes);
    },
  });
  const predictRoute = predict({
    coordinator,
    schemas,
    config,
    registry: deps.registry,
    readiness: deps.readiness,
    started: deps.started,
    gate: gate(deps.readiness, config.apiKeys, heapGuard(config.maxHeapFraction), () => metrics.refused('heap_full')),
    parseBody: (ctx) => parseBody(ctx, noop),
  });
  // One middleware level in front of everything: request id, error shaping and the log line,
  // and POST /predict answered right here, so that a request waiting seconds for its backend
  // keeps one suspended handler alive, not a chain of them (koa-compose keeps a bound
  // dispatch and a frame per level awaiting next()).
  app.use(front(log, metrics, predictRoute, Math.max(config.maxBodyBytes, minDrainBytes)));

  const router = new Router<State>();
  router.get(routes.healthz, (ctx) => {
    ctx.body = {status: 'ok'};
  });
  router.get(routes.readyz, (ctx) => {
    const readiness = deps.readiness();
    ctx.status = readiness === 'ready' ? 200 : 503;
    ctx.body = {status: readiness};
  });
  router.get(routes.metrics, async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.text();
  });
  router.get(routes.openapi, (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openapi;
  });
  router.get(routes.models, (ctx) => {
    ctx.body = describeRegistry(deps.registry(), (model) => deps.metrics.costsOf(model));
  });
  router.get(routes.docs, docsPage);
  router.get(routes.docsAsset, docsAsset);
  // POST /predict is answered by the front middleware; registered here so that the router
  // answers its other methods with 405 and Allow.
  router.post(routes.predict, predictRoute);

  app.use(router.routes());
  // Sets 405 or 501 (with Allow) for a known path; errorShape gives those the contract's body.
  app.use(router.allowedMethods());
  return app;
}

const noop = async () => {};

/** A refused body's rest is read and dropped for at most this long before the connection closes. */
const drainMs = 5000;
/** ... and at most this many bytes of it (or MAX_BODY_BYTES, if larger). */
const minDrainBytes = 8 << 20;

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
function front(
  log: Logger,
  metrics: Metrics,
  predictRoute: (ctx: Context & {state: State}) => Promise<void>,
  drainBytes: number,
) {
  return async (ctx: Context & {state: State}, next: Next) => {
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

/**
 * The gate: what /predict checks before reading the body, in order: readiness (503 not_ready while
 * draining or without reachable threads; starting is let through, to be held), the heap
 * (503 overloaded past MAX_HEAP_FRACTION of its limit), bearer key when API_KEYS is set (401;
 * compared in constant time, every key compared), media type (415).
 */
function gate(
  readiness: () => Readiness,
  keys: readonly string[],
  heapFull: () => boolean,
  refusedForHeap: () => void,
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
  };
}

/**
 * The body parser decodes UTF-8 leniently (a bad byte becomes U+FFFD, so two different ids could
 * merge): keep the raw chunks beside it, to check the bytes once the body is in. Set just before
 * the body is read: a listener makes the stream flow.
 */
function keepRawChunks(ctx: Context & {state: State}): void {
  const encoding = ctx.get('content-encoding');
  if (encoding && encoding !== 'identity') return;
  ctx.state.bodyChunks = [];
  // Into the state's list while there is one (an early answer drops it and drains the rest).
  const keep = (chunk: Buffer) => ctx.state.bodyChunks?.push(chunk);
  ctx.req.on('data', keep);
  // Off again once the body is in: the listener must not keep the bytes alive while the
  // request waits seconds for its backend.
  ctx.req.once('end', () => ctx.req.off('data', keep));
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

function translateParserError(error: Error & {status?: number; type?: string}, limit: number): HttpError {
  if (error.status === 413 || error.type === 'entity.too.large') return Errors.payloadTooLarge(limit);
  if (error.status === 415) return new HttpError(415, 'unsupported_media_type', error.message);
  if (error.type === 'request.aborted') return new HttpError(400, 'invalid_json', 'request body was cut short');
  if (error.status === 400 && error.type === 'request.size.invalid') {
    return new HttpError(400, 'invalid_json', 'request body length does not match Content-Length');
  }
  return Errors.invalidJson();
}

interface PredictDeps {
  readonly coordinator: Submitter;
  readonly schemas: Schemas;
  readonly config: Config;
  readonly registry: () => Registry;
  readonly readiness: () => Readiness;
  readonly started: () => Promise<void>;
  /** The gate: readiness, heap, auth and media type, before the body is read (throws HttpErrors). */
  readonly gate: (ctx: Context) => void;
  readonly parseBody: (ctx: Context) => Promise<unknown>;
}

type PredictContext = Context & {state: State; request: {body?: unknown; rawBody?: string}};

const ticketKey = Symbol('ticket');
type AnsweredResponse = ServerResponse & {[ticketKey]?: Ticket};

/**
 * One listener shared by every response, its ticket on the response itself: a request waiting
 * seconds keeps no closure, context or once-wrapper of its own for this.
 */
function withdrawIfUnanswered(this: AnsweredResponse): void {
  const ticket = this[ticketKey];
  this[ticketKey] = undefined;
  if (!this.writableFinished) ticket?.cancel();
}

/**
 * While the actor threads start, a request is held (before its body is read: the bytes wait in
 * the socket) until they are up or its deadline passes, instead of being refused at the first
 * moment. Past its deadline, or when the service starts draining, it gets 503 not_ready.
 */
async function holdWhileStarting(ctx: PredictContext, deps: PredictDeps, arrived: number): Promise<void> {
  let timeoutMs = deps.config.requestTimeoutMs;
  try {
    timeoutMs = requestTimeout(ctx.get('x-request-timeout-ms'), timeoutMs);
  } catch {
    // A bad header is answered (422) once the request goes on; meanwhile the default deadline holds.
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, arrived + timeoutMs - Date.now()));
  });
  await Promise.race([deps.started(), deadline]);
  clearTimeout(timer);
  // A client that left meanwhile (its request was aborted) is not dispatched.
  if (ctx.req.destroyed) throw Errors.notReady('the client left while the service was starting');
  const state = deps.readiness();
  if (state === 'ready') return;
  throw Errors.notReady(
    state === 'starting'
      ? "service is starting: its actor threads were not up within the request's deadline"
      : notReadyWhy[state],
  );
}

/** POST /predict: check, read, validate and submit; then wait for the outcomes and answer. */
function predict(deps: PredictDeps) {
  return async (ctx: PredictContext): Promise<void> => {
    const arrived = Date.now();
    deps.gate(ctx);
    if (deps.readiness() === 'starting') await holdWhileStarting(ctx, deps, arrived);
    keepRawChunks(ctx);
    await deps.parseBody(ctx);
    // Validated and submitted in a function of its own: once it returns, nothing here holds the
    // parsed body or its vectors while the backend works (only the ids are kept).
    const {ids, ticket, stream} = submit(ctx, deps, arrived);
    // The client going away withdraws its agents that are still waiting in a mailbox.
    (ctx.res as AnsweredResponse)[ticketKey] = ticket;
    ctx.res.on('close', withdrawIfUnanswered);
    if (stream) {
      // The 200 goes out now; lines follow as outcomes come, then the last line, then the end.
      ctx.status = 200;
      ctx.type = ndjson;
      ctx.body = stream;
      setAnswerHeaders(ctx);
      ctx.res.flushHeaders();
      const requestId = ctx.state.requestId;
      void ticket.outcomes.then((outcomes) => {
        const errors = outcomes.some((o) => !('prediction' in o));
        stream.end(`${JSON.stringify({request_id: requestId, errors, done: true})}\n`);
      });
      return;
    }
    // Returned, not awaited: while the backend works, the front middleware's frame is the one
    // suspended for this request, not this one's as well.
    return ticket.outcomes.then((outcomes) => answer(ctx, ids, outcomes));
  };
}

/** The whole answer: 200 when any agent succeeded, else 504 when all ran out of time, else 502. */
function answer(ctx: PredictContext, ids: readonly string[], outcomes: readonly AgentOutcome[]): void {
  // A null-prototype object: an agent id such as "__proto__" stays an ordinary own key.
  const results: Record<string, AgentResult> = Object.create(null);
  let succeeded = 0;
  let allDeadline = true;
  for (let i = 0; i < ids.length; i++) {
    const outcome: AgentOutcome = outcomes[i];
    if ('prediction' in outcome) succeeded++;
    else if (outcome.error.code !== 'deadline_exceeded') allDeadline = false;
    results[ids[i]] = outcome;
  }
  const body: PredictResponse = {request_id: ctx.state.requestId, errors: succeeded < ids.length, results};
  ctx.status = succeeded > 0 ? 200 : allDeadline ? 504 : 502;
  ctx.body = body;
}

/**
 * The body checked (UTF-8, schema, registry, limits) and admitted, its deadline counted from the
 * request's arrival; throws the request-level errors.
 */
function submit(
  ctx: PredictContext,
  deps: PredictDeps,
  arrived: number,
): {ids: string[]; ticket: Ticket; stream: PassThrough | undefined} {
  const {coordinator, schemas, config, registry} = deps;
  const chunks = ctx.state.bodyChunks;
  ctx.state.bodyChunks = undefined;
  const validUtf8 = !chunks || isUtf8(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  if (chunks) chunks.length = 0;
  if (!validUtf8) throw Errors.invalidJson('request body is not valid UTF-8');
  if (ctx.request.rawBody === '') throw Errors.invalidJson('request body is empty');
  const parsed = parsePredictRequest(ctx.request.body, schemas, config, registry());
  // The parsed body and its text are not needed past this point.
  ctx.request.body = undefined;
  (ctx.request as {rawBody?: string}).rawBody = undefined;
  if (!parsed.ok) throw Errors.validation(parsed.details);
  const timeoutMs = requestTimeout(ctx.get('x-request-timeout-ms'), config.requestTimeoutMs);
  const {agents} = parsed;
  const ids = agents.map((a) => a.id);
  ctx.state.agents = agents.length;
  const stream = wantsStream(ctx.get('accept')) ? new PassThrough() : undefined;
  const admission = coordinator.submit({
    requestId: ctx.state.requestId,
    client: ctx.state.client,
    agents,
    deadline: arrived + timeoutMs,
    // DESIGN §9: one line per agent as soon as its outcome is known.
    onOutcome: stream && ((i, outcome) => stream.write(`${JSON.stringify({id: ids[i], ...outcome})}\n`)),
  });
  if (!admission.admitted) {
    const {reason, retryAfterSeconds} = admission.refusal;
    throw Errors.overloaded(refusalMessages[reason], retryAfterSeconds);
  }
  return {ids, ticket: admission.ticket, stream};
}

const ndjson = 'application/x-ndjson';

/** Streamed answers are asked for with `Accept: application/x-ndjson` (DESIGN §9). */
function wantsStream(accept: string): boolean {
  return accept.includes(ndjson);
}

function requestTimeout(header: string, max: number): number {
  if (header === '') return max;
  if (!/^\d{1,10}$/.test(header.trim()) || Number(header) < 1) {
    throw Errors.validation([
      {path: 'headers.x-request-timeout-ms', message: 'must be a positive integer of milliseconds'},
    ]);
  }
  return Math.min(max, Number(header));
}
