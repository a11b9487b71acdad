// Our own HTTP protocol (BACKEND_URL, `backend_url`, `{"kind": "http"}`; DESIGN §4): an encoder and
// a decoder around the shared client (http-client.ts: pool, retries, cap, halving, credentials).
//
//   POST {BACKEND_URL} {"model", "agent_type", "vectors": [[...], ...]}  ->  200 {"vector": [...]}
//
// A reply that is not JSON with a "vector" array is `backend_bad_response` for the whole batch
// (never retried); its length and values are checked as for every backend.

import type {HttpBackendOptions} from '../../src/config.ts';
import {BackendError} from './backend.ts';
import {HttpClient} from './http-client.ts';
import type {WireProtocol} from './wire-protocol.ts';
import {jsonRows} from '../../src/protocol/json-floats.ts';
import {jsonHeaders, parseBoundedJson, replyBounds} from './json-wire.ts';

/** Our protocol's encoder and decoder. */
export const ourProtocol: WireProtocol = {
  encode: (call, rows) => ({
    method: 'POST',
    path: '',
    headers: jsonHeaders,
    body: matrixBody(call.model, call.agentType, rows),
  }),
  decode: (reply, _call, rows) => parseReply(reply.body, rows),
};

/** The client speaking our protocol. */
export class HttpBackend extends HttpClient {
  constructor(options: HttpBackendOptions) {
    super(options, ourProtocol);
  }
}

/** The call's JSON body, the same text as `JSON.stringify({model, agent_type, vectors})` with each row as an array. */
export function matrixBody(model: string, agentType: string, rows: readonly Float64Array[]): string {
  return `{"model":${JSON.stringify(model)},"agent_type":${JSON.stringify(agentType)},"vectors":[${jsonRows(rows, true)}]}`;
}

/**
 * The reply's envelope: JSON with a "vector" array, measured before it is parsed (json-wire.ts). Its length and values are checked by the
 * actor (workers/reply-check.ts), as for every backend.
 */
export function parseReply(body: Buffer | string, rows: number): unknown[] {
  let reply: unknown;
  try {
    reply = parseBoundedJson(body, replyBounds(rows));
  } catch (error) {
    const why = error instanceof SyntaxError ? 'is not JSON' : (error as Error).message;
    throw new BackendError('backend_bad_response', `backend reply ${why}`);
  }
  const vector = (reply as {vector?: unknown} | null)?.vector;
  if (!Array.isArray(vector)) throw new BackendError('backend_bad_response', 'backend reply has no "vector" array');
  return vector;
}
