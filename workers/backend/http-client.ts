// The HTTP backend client, one per backend per worker thread, shared by every protocol it speaks
// (DESIGN §4 and §10). A protocol is a small encoder/decoder pair (`WireProtocol`, wire-protocol.ts):
// ours (`http.ts`), the Open Inference Protocol (`v2.ts`) and TensorFlow Serving (`tfserving.ts`).
// Everything else is here, once:
//
// - One pooled keep-alive connection pool (undici) per client.
// - Credentials in the URL (`user:password@`) travel as an `Authorization: Basic` header, never in
//   the URL. A server may echo them, or a query-string token, into anything it sends: every error
//   a batch's call throws has them cut out (redact.ts `scrubError`) in `predict`, before it goes
//   to a log or a client, whatever message quotes the server.
// - Connection errors, timeouts, 429 and 5xx are retried `retries` times with exponential backoff
//   and full jitter, honouring Retry-After, and never past the batch's earliest deadline.
// - A reply larger than `maxReplyBytes` is cut off while it streams in: `backend_bad_response`,
//   never an out-of-memory end of the process (http-reply.ts).
// - A 200 reply the protocol cannot decode is `backend_bad_response` for the whole batch (never
//   retried); its length is checked here per call, its values by the actor (workers/reply-check.ts)
//   row by row, as for every backend: a non-finite value fails its row only.
// - Any other 4xx means the backend refused something in the matrix: the batch is split in
//   halves, recursively, until the refused rows are isolated (`backend_rejected`); the others
//   get their predictions. The calls this may cost, and why no client's rows fail because of
//   another's: isolation.ts. A protocol may say that a refusal is about the whole batch instead
//   (a v2 or TF Serving 404: the server does not know the model): the batch fails at once, unsplit.
// - The backend's own words (an `{"error": …}` body) go to the log as the error's cause, never
//   into a client's answer: only the status is passed on.

import {createRequire} from 'node:module';
import type {Agent, Dispatcher} from 'undici';
import type {HttpBackendOptions, TfServingBackendOptions, V2BackendOptions} from '../../src/config.ts';
import {credentialForms, scrubError} from '../../src/redact.ts';
import {countProblem} from '../reply-check.ts';
import {BackendError} from './backend.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';
import {errorText, readLimited, retryAfterMs} from './http-reply.ts';
import type {Exchange, Exchanger, WireProtocol, WireRequest} from './wire-protocol.ts';
import {newIsolation, shuffle, wake} from './isolation.ts';
import type {Isolation} from './isolation.ts';

export {isolationBudget} from './isolation.ts';

/**
 * The options of any of the three HTTP backends (config.ts): the client reads their `url` (the
 * endpoint for ours, the server's base URL for v2 and tfserving; credentials allowed), `timeoutMs`,
 * `retries` and `maxReplyBytes` (MAX_BACKEND_REPLY_BYTES); the protocol reads the rest.
 */
export type HttpClientOptions = HttpBackendOptions | V2BackendOptions | TfServingBackendOptions;

/**
 * undici, loaded when the first HTTP client of a thread is made (the actor thread makes those of
 * its registry as it starts): a thread serving only the simulated network or an onnx model never
 * loads it (about 90 ms of each thread's start, measured).
 */
let undici: typeof import('undici') | undefined;
const loadUndici = () => (undici ??= createRequire(import.meta.url)('undici') as typeof import('undici'));

/** The first backoff step, doubled each attempt up to backoffMaxMs (full jitter). */
const backoffBaseMs = 100;
const backoffMaxMs = 5000;

/** How much of an error reply is read (for the log; the rest is dropped) so that the connection can be reused. */
const errorBodyLimit = 64 * 1024;

type Attempt = Exchange | {kind: 'retry'; reason: string; retryAfterMs: number; cause?: unknown};

export class HttpClient implements Backend, Exchanger {
  readonly #options: HttpClientOptions;
  readonly #protocol: WireProtocol;
  readonly #agent: Agent;
  /** The URL without credentials, as given (a request with path ''). */
  readonly #url: string;
  /** The URL without its trailing `/`, to which a request's path is appended. */
  readonly #base: string;
  readonly #headers: Record<string, string>;
  /** The credentials in each form a server may echo back (redact.ts): cut out of its error texts before they are logged. */
  readonly #secrets: readonly string[];

  constructor(options: HttpClientOptions, protocol: WireProtocol) {
    this.#options = options;
    this.#protocol = protocol;
    const url = new URL(options.url);
    this.#secrets = credentialForms(url);
    this.#headers = {};
    if (url.username || url.password) {
      const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.#headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.#url = url.href;
    this.#base = url.href.replace(/\/+$/, '');
    // No cap on connections: how many calls a key may have in flight is MAX_CONCURRENT_BATCHES.
    this.#agent = new (loadUndici().Agent)({keepAliveTimeout: 10_000, pipelining: 1});
  }

  /**
   * The batch's values. Every error it throws (message, stack, causes) has the client's secrets
   * cut out first, here, once: a message may quote what the server sent (a tensor name, an id, a
   * datatype), and a server may echo what it was sent.
   */
  async predict(call: BackendCall): Promise<BackendReply> {
    try {
      await this.#protocol.prepare?.(call, this);
      const rejected = new Map<number, string>();
      const values = new Array<unknown>(call.rows.length);
      await this.#solve(call, 0, call.rows.length, values, rejected, newIsolation(call.rows.length));
      if (rejected.size === 0) return {values};
      return {values, rejected: new Map([...rejected].sort((a, b) => a[0] - b[0]))};
    } catch (error) {
      throw scrubError(error, this.#secrets);
    }
  }

  registryReloaded(): void {
    this.#protocol.registryReloaded?.();
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /**
   * One request with the client's retries, within `deadline`: a 200 reply (read within the cap)
   * or a refusal (4xx other than 429). Throws BackendError: `backend_error` once the retries or
   * the deadline are spent, `backend_bad_response` for a reply over the cap or another status.
   */
  async exchange(wire: WireRequest, deadline: number): Promise<Exchange> {
    const {retries} = this.#options;
    let last: Attempt & {kind: 'retry'} = {kind: 'retry', reason: 'no attempt made', retryAfterMs: 0};
    let attempts = 0;
    while (attempts <= retries) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const outcome = await this.#attempt(wire, Math.min(this.#options.timeoutMs, remaining));
      attempts++;
      if (outcome.kind !== 'retry') return outcome;
      last = outcome;
      if (attempts > retries) break;
      const backoff = Math.random() * Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempts - 1));
      const delay = Math.max(backoff, outcome.retryAfterMs);
      if (Date.now() + delay >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    // The reason is short and safe for clients; the underlying error goes to the log as the cause.
    throw new BackendError('backend_error', `backend failed after ${attempts} attempt(s): ${last.reason}`, {
      cause: last.cause,
    });
  }

  /**
   * Predicts the rows at positions [from, to) of `iso.order`: whole if the backend accepts them,
   * else by halves (the whole batch's rows shuffled first). While every call
   * of the batch so far was refused, a split takes two of the budget's calls; a part refused with
   * the budget spent waits for the calls in flight: if one of them is accepted it splits on, if
   * none is its rows are refused together.
   */
  async #solve(
    call: BackendCall,
    from: number,
    to: number,
    values: unknown[],
    rejected: Map<number, string>,
    iso: Isolation,
  ) {
    const whole = from === 0 && to === call.rows.length;
    const id = whole ? (call.batchId ?? 'batch') : `${call.batchId ?? 'batch'}:${from}-${to}`;
    const {order} = iso;
    const rows = whole ? call.rows : order.slice(from, to).map((row) => call.rows[row]);
    iso.inFlight++;
    let outcome: Exchange;
    try {
      outcome = await this.exchange(this.#protocol.encode(call, rows, id), call.deadline);
    } catch (error) {
      iso.inFlight--;
      wake(iso);
      throw error;
    }
    iso.inFlight--;
    if (outcome.kind === 'ok') {
      iso.accepted = true;
      wake(iso);
      const got = this.#protocol.decode(outcome.reply, call, to - from, id);
      const wrongCount = countProblem(got.length, to - from);
      if (wrongCount) throw new BackendError('backend_bad_response', wrongCount);
      for (let i = 0; i < got.length; i++) values[order[from + i]] = got[i];
      return;
    }
    wake(iso);
    const batchFailure = this.#protocol.wholeBatch?.(outcome, call);
    if (batchFailure) throw batchFailure;
    if (to - from === 1) {
      rejected.set(order[from], `backend refused this row (HTTP ${outcome.status})`);
      return;
    }
    while (!iso.accepted && iso.left < 2 && iso.inFlight > 0)
      await new Promise<void>((resolve) => iso.waiting.push(resolve));
    if (!iso.accepted && iso.left < 2) {
      // Every call so far refused: single rows picked at random say whether the server refuses everything.
      iso.probing ??= this.#probe(call, values, rejected, iso);
      await iso.probing;
    }
    if (!iso.accepted && iso.left < 2) {
      const why = `backend refused this row's part of the batch (HTTP ${outcome.status}), as it refused every call of the batch (${iso.probes} single rows picked at random too); not isolated further: the batch's ${iso.total} calls are spent`;
      for (let at = from; at < to; at++) rejected.set(order[at], why);
      return;
    }
    if (!iso.accepted) iso.left -= 2;
    if (whole) shuffle(order);
    const mid = from + Math.ceil((to - from) / 2);
    await Promise.all([
      this.#solve(call, from, mid, values, rejected, iso),
      this.#solve(call, mid, to, values, rejected, iso),
    ]);
  }

  /** Up to `iso.probes` rows not known to be refused, picked at random, each sent alone (at once). */
  async #probe(call: BackendCall, values: unknown[], rejected: Map<number, string>, iso: Isolation) {
    const open = [];
    for (let at = 0; at < iso.order.length; at++) if (!rejected.has(iso.order[at])) open.push(at);
    shuffle(open);
    const picked = open.slice(0, iso.probes);
    await Promise.all(picked.map((at) => this.#solve(call, at, at + 1, values, rejected, iso)));
  }

  async #attempt(wire: WireRequest, timeoutMs: number): Promise<Attempt> {
    let response: Dispatcher.ResponseData;
    try {
      response = await loadUndici().request(wire.path === '' ? this.#url : this.#base + wire.path, {
        method: wire.method,
        dispatcher: this.#agent,
        headers: {...wire.headers, ...this.#headers},
        body: wire.body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error);
      return {kind: 'retry', reason, retryAfterMs: 0, cause: error};
    }
    const status = response.statusCode;
    if (status !== 200) {
      // An error body is read only for its {"error": …} text (for the log), and at most a little of it.
      const error = await readLimited(response, errorBodyLimit).then(
        (body) => errorText(body, this.#secrets),
        () => undefined,
      );
      if (status === 429 || status >= 500) {
        return {
          kind: 'retry',
          reason: `HTTP ${status}`,
          retryAfterMs: retryAfterMs(response.headers['retry-after']),
          cause: error && new Error(error),
        };
      }
      if (status >= 400) return {kind: 'refused', status, error};
      throw new BackendError('backend_bad_response', `backend answered HTTP ${status}`);
    }
    let body: Buffer;
    try {
      body = await readLimited(response, this.#options.maxReplyBytes);
    } catch (error) {
      if (error instanceof BackendError) throw error;
      return {kind: 'retry', reason: `reply cut short: ${describe(error)}`, retryAfterMs: 0, cause: error};
    }
    return {kind: 'ok', reply: {headers: response.headers, body}};
  }
}

/** A short reason for a client to read: the error's code, never addresses or internal messages (those go to the log). */
function describe(error: unknown): string {
  const code = (error as {code?: unknown} | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown error';
}
