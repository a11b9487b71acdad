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
import {BackendError} from './backend.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';
import {errorText, readLimited, retryAfterMs} from './http-reply.ts';
import type {Exchange, Exchanger, WireProtocol, WireRequest} from './wire-protocol.ts';
import {isolate} from './isolation.ts';

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
      return await isolate(call, this.#protocol, this);
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
