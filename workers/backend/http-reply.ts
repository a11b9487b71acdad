// What the HTTP client (http-client.ts) reads of a response: the body within the reply cap (cut
// off while it streams in, never held whole past it), an error body's `{"error": …}` text for the
// log, and Retry-After.

import type {Dispatcher} from 'undici';
import {scrubSecrets} from '../../src/redact.ts';
import {BackendError} from './backend.ts';
import {parseBoundedJson} from './json-wire.ts';
import type {JsonBounds} from './json-wire.ts';

/** How much of a server's `{"error": …}` text goes into a log line. */
const errorTextLimit = 500;

/** An error body is an object with a string in it: a few levels, a few values. */
const errorBodyShape: JsonBounds = {maxDepth: 8, maxValues: 1024};

/**
 * The reply's body, cut off past `limit` bytes: a Content-Length over it is refused before
 * anything is read, and the bytes are counted as they stream in, so no reply can hold more than
 * `limit` bytes of this thread's memory (per call in flight) or end the process.
 */
export async function readLimited(response: Dispatcher.ResponseData, limit: number): Promise<Buffer> {
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
  return Buffer.concat(chunks, size);
}

/**
 * The `error` string of an error body (all three protocols write `{"error": "…"}`) as one line for
 * the log: the `secrets` (the client's credentials, which a server may echo) cut out first, control
 * characters made spaces, then shortened to 500 characters. Undefined for any other body.
 */
export function errorText(body: Buffer, secrets: readonly string[] = []): string | undefined {
  let error: unknown;
  try {
    error = (parseBoundedJson(body, errorBodyShape) as {error?: unknown} | null)?.error;
  } catch {
    return undefined;
  }
  return typeof error === 'string' ? oneLine(scrubSecrets(error, secrets), errorTextLimit) : undefined;
}

/** The text on one line (control characters as spaces), cut to `limit` characters with `…`. */
export function oneLine(text: string, limit: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
  return flat.length > limit ? `${flat.slice(0, limit - 1)}…` : flat;
}

/** Retry-After in ms (seconds or an HTTP date); 0 when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}
