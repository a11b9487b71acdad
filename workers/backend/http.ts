// The backend over HTTP (BACKEND_URL set): one pooled keep-alive client per worker thread.
//
//   POST {BACKEND_URL} {"model", "agent_type", "vectors": [[...], ...]}  ->  200 {"vector": [...]}
//
// - Connection errors, timeouts, 429 and 5xx are retried BACKEND_RETRIES times with exponential
//   backoff and full jitter, honouring Retry-After, and never past the batch's earliest deadline.
// - A reply larger than MAX_BACKEND_REPLY_BYTES is cut off while it streams in:
//   `backend_bad_response`, never an out-of-memory end of the process.
// - A reply that is not JSON with a "vector" array is `backend_bad_response` for the whole batch
//   (never retried); its length and values are checked by the actor, as for every backend.
// - Any other 4xx means the backend refused something in the matrix: the batch is split in
//   halves, recursively, until the refused rows are isolated (`backend_rejected`); the others
//   get their predictions. Each refused row costs at most about 2·log2(n) extra calls.

import {createRequire} from 'node:module';
import type {Agent, Dispatcher} from 'undici';
import {countProblem} from '../reply-check.ts';
import {BackendError} from './backend.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';

export interface HttpBackendOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly retries: number;
  /** Largest reply body read; a larger one is `backend_bad_response` (MAX_BACKEND_REPLY_BYTES). */
  readonly maxReplyBytes: number;
  /** First backoff step; doubles each attempt (full jitter). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly random?: () => number;
}

/**
 * undici, loaded when the first HTTP backend of a thread is made (the actor host makes those of
 * its registry as it starts): a thread serving only the simulated network never loads it (about
 * 90 ms of each thread's start, measured).
 */
let undici: typeof import('undici') | undefined;
const loadUndici = () => (undici ??= createRequire(import.meta.url)('undici') as typeof import('undici'));

/** How much of an error reply is read (and thrown away) so that the connection can be reused. */
const errorBodyLimit = 64 * 1024;

type Attempt =
  | {kind: 'ok'; values: unknown[]}
  | {kind: 'retry'; reason: string; retryAfterMs: number; cause?: unknown}
  | {kind: 'refused'; status: number};

export class HttpBackend implements Backend {
  readonly #options: HttpBackendOptions;
  readonly #agent: Agent;
  readonly #random: () => number;
  readonly #url: string;
  readonly #headers: Record<string, string>;

  constructor(options: HttpBackendOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    // Credentials in BACKEND_URL travel as a header, never in the URL, so no error or log line
    // about a request can carry them.
    const url = new URL(options.url);
    this.#headers = {'content-type': 'application/json'};
    if (url.username || url.password) {
      const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.#headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.#url = url.href;
    // No cap on connections: how many calls a key may have in flight is MAX_CONCURRENT_BATCHES.
    this.#agent = new (loadUndici().Agent)({keepAliveTimeout: 10_000, pipelining: 1});
  }

  async predict(call: BackendCall): Promise<BackendReply> {
    const rejected = new Map<number, string>();
    const values = new Array<unknown>(call.rows.length);
    await this.#solve(call, 0, call.rows.length, values, rejected);
    return rejected.size > 0 ? {values, rejected} : {values};
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** Predicts rows [from, to): whole if the backend accepts them, else by halves. */
  async #solve(call: BackendCall, from: number, to: number, values: unknown[], rejected: Map<number, string>) {
    const outcome = await this.#withRetries(call, call.rows.slice(from, to));
    if (outcome.kind === 'ok') {
      const wrongCount = countProblem(outcome.values.length, to - from);
      if (wrongCount) throw new BackendError('backend_bad_response', wrongCount);
      for (let i = 0; i < outcome.values.length; i++) values[from + i] = outcome.values[i];
      return;
    }
    if (to - from === 1) {
      rejected.set(from, `backend refused this row (HTTP ${outcome.status})`);
      return;
    }
    const mid = from + Math.ceil((to - from) / 2);
    await Promise.all([
      this.#solve(call, from, mid, values, rejected),
      this.#solve(call, mid, to, values, rejected),
    ]);
  }

  async #withRetries(call: BackendCall, rows: readonly Float64Array[]): Promise<Attempt & {kind: 'ok' | 'refused'}> {
    const {retries, backoffBaseMs = 100, backoffMaxMs = 5000} = this.#options;
    const body = matrixBody(call.model, call.agentType, rows);
    let last: Attempt & {kind: 'retry'} = {kind: 'retry', reason: 'no attempt made', retryAfterMs: 0};
    let attempts = 0;
    while (attempts <= retries) {
      const remaining = call.deadline - Date.now();
      if (remaining <= 0) break;
      const outcome = await this.#attempt(body, Math.min(this.#options.timeoutMs, remaining));
      attempts++;
      if (outcome.kind !== 'retry') return outcome;
      last = outcome;
      if (attempts > retries) break;
      const backoff = this.#random() * Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempts - 1));
      const delay = Math.max(backoff, outcome.retryAfterMs);
      if (Date.now() + delay >= call.deadline) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    // The reason is short and safe for clients; the underlying error goes to the log as the cause.
    throw new BackendError('backend_error', `backend failed after ${attempts} attempt(s): ${last.reason}`, {cause: last.cause});
  }

  async #attempt(body: string, timeoutMs: number): Promise<Attempt> {
    let response: Dispatcher.ResponseData;
    try {
      response = await loadUndici().request(this.#url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: this.#headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error);
      return {kind: 'retry', reason, retryAfterMs: 0, cause: error};
    }
    const status = response.statusCode;
    if (status !== 200) {
      // Nobody reads an error body: take at most a little of it (to keep the connection) and drop it.
      await response.body.dump({limit: errorBodyLimit}).catch(() => {});
    }
    if (status === 429 || status >= 500) {
      return {kind: 'retry', reason: `HTTP ${status}`, retryAfterMs: retryAfterMs(response.headers['retry-after'])};
    }
    // The backend's own words stay out of client answers: only the status is passed on.
    if (status >= 400) return {kind: 'refused', status};
    if (status !== 200) throw new BackendError('backend_bad_response', `backend answered HTTP ${status}`);
    let text: string;
    try {
      text = await readLimited(response, this.#options.maxReplyBytes);
    } catch (error) {
      if (error instanceof BackendError) throw error;
      return {kind: 'retry', reason: `reply cut short: ${describe(error)}`, retryAfterMs: 0, cause: error};
    }
    return {kind: 'ok', values: parseReply(text)};
  }
}

/**
 * The call's JSON body, the same text as `JSON.stringify({model, agent_type, vectors})` with each
 * row as an array. A row is written with join(), which prints a finite number exactly as JSON
 * does, about 4× faster than copying every row into an array for JSON.stringify; a row with NaN
 * or an infinity (which JSON writes as null) takes the slow way.
 */
export function matrixBody(model: string, agentType: string, rows: readonly Float64Array[]): string {
  let vectors = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].join(',');
    const text = row.includes('N') || row.includes('I') ? JSON.stringify(Array.from(rows[i])) : `[${row}]`;
    vectors += i === 0 ? text : `,${text}`;
  }
  return `{"model":${JSON.stringify(model)},"agent_type":${JSON.stringify(agentType)},"vectors":[${vectors}]}`;
}

/**
 * The reply's body as text, cut off past `limit` bytes: a Content-Length over it is refused
 * before anything is read, and the bytes are counted as they stream in, so no reply can hold more
 * than `limit` bytes of this thread's memory (per call in flight) or end the process.
 */
async function readLimited(response: Dispatcher.ResponseData, limit: number): Promise<string> {
  const tooLarge = () => new BackendError('backend_bad_response', `backend reply is larger than ${limit} bytes`);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/**
 * The reply's envelope: JSON with a "vector" array. Its length and values are checked by the
 * actor (workers/reply-check.ts), as for every backend.
 */
export function parseReply(text: string): unknown[] {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new BackendError('backend_bad_response', 'backend reply is not JSON');
  }
  const vector = (reply as {vector?: unknown} | null)?.vector;
  if (!Array.isArray(vector)) throw new BackendError('backend_bad_response', 'backend reply has no "vector" array');
  return vector;
}

function retryAfterMs(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}

/** A short reason for a client to read: the error's code, never addresses or internal messages (those go to the log). */
function describe(error: unknown): string {
  const code = (error as {code?: unknown} | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown error';
}
