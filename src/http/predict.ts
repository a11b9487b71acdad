// POST /predict: through the gate, held while the actor threads start, the body read, checked and
// submitted to the coordinator; then the answer, whole or streamed. A client that leaves has its
// waiting agents withdrawn.

import type {ServerResponse} from 'node:http';
import {PassThrough} from 'node:stream';
import type {Context} from 'koa';
import type {Config} from '../config.ts';
import {refusalMessages} from '../coordinator/admission.ts';
import {clientGroup} from '../coordinator/clients.ts';
import type {Refusal} from '../coordinator/admission.ts';
import type {Submitter, Ticket} from '../coordinator/api.ts';
import {Errors} from '../errors.ts';
import {giveUp, raceTimeout} from '../race-timeout.ts';
import type {Registry} from '../registry.ts';
import {answer, answerStreamed, outcomeLine, wantsStream} from './answer.ts';
import {checkBodyBytes, keepRawChunks} from './body.ts';
import type {EarlyRetries} from './early-retries.ts';
import type {FrontContext} from './front.ts';
import {notReadyWhy} from './gate.ts';
import type {Readiness} from './gate.ts';
import {parsePredictRequest} from './schemas.ts';
import type {Schemas} from './schemas.ts';

export interface PredictDeps {
  readonly coordinator: Submitter;
  readonly schemas: Schemas;
  readonly config: Config;
  readonly registry: () => Registry;
  readonly readiness: () => Readiness;
  readonly started: () => Promise<void>;
  /** The gate: readiness, heap, auth and media type, before the body is read (throws HttpErrors). */
  readonly gate: (ctx: Context) => void;
  /** Reads and parses the body (body.ts). */
  readonly readBody: (ctx: Context) => Promise<unknown>;
  /** Holds the refusals of clients that came back before their Retry-After (early-retries.ts). */
  readonly earlyRetries: EarlyRetries;
}

type PredictContext = FrontContext & {request: {body?: unknown; rawBody?: string}};

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
  await raceTimeout(deps.started(), Math.max(0, arrived + timeoutMs - Date.now()), giveUp);
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
export function predict(deps: PredictDeps) {
  return async (ctx: PredictContext): Promise<void> => {
    const arrived = Date.now();
    deps.gate(ctx);
    if (deps.readiness() === 'starting') await holdWhileStarting(ctx, deps, arrived);
    keepRawChunks(ctx);
    await deps.readBody(ctx);
    // Validated and submitted in a function of its own: once it returns, nothing here holds the
    // parsed body or its vectors while the backend works (only the ids are kept).
    const submitted = submit(ctx, deps, arrived);
    if ('refused' in submitted) {
      // Answered when the client should have come back, if it came back early on this connection.
      const {refused, deadline} = submitted;
      const now = Date.now();
      const client = clientGroup(ctx.state.client);
      const holdMs = deps.earlyRetries.refused(ctx.req.socket, client, refused.retryAfterSeconds, now, deadline);
      await deps.earlyRetries.hold(holdMs, ctx.res);
      throw Errors.overloaded(refusalMessages[refused.reason], refused.retryAfterSeconds);
    }
    const {ids, ticket, stream} = submitted;
    // The client going away withdraws its agents that are still waiting in a mailbox.
    (ctx.res as AnsweredResponse)[ticketKey] = ticket;
    ctx.res.on('close', withdrawIfUnanswered);
    if (stream) {
      answerStreamed(ctx, stream, ticket.outcomes);
      return;
    }
    // Returned, not awaited: while the backend works, the front middleware's frame is the one
    // suspended for this request, not this one's as well.
    return ticket.outcomes.then((outcomes) => answer(ctx, ids, outcomes));
  };
}

/**
 * The body checked (UTF-8, schema, registry, limits) and admitted, its deadline counted from the
 * request's arrival; throws the request-level errors.
 */
function submit(
  ctx: PredictContext,
  deps: PredictDeps,
  arrived: number,
): {ids: string[]; ticket: Ticket; stream: PassThrough | undefined} | {refused: Refusal; deadline: number} {
  const {coordinator, schemas, config, registry} = deps;
  checkBodyBytes(ctx);
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
    onOutcome: stream && ((i, outcome) => stream.write(outcomeLine(ids[i], outcome))),
  });
  if (!admission.admitted) return {refused: admission.refusal, deadline: arrived + timeoutMs};
  return {ids, ticket: admission.ticket, stream};
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
