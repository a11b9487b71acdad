// What the HTTP client (http-client.ts) reads of a response: the body within the reply cap (cut
// off while it streams in, never held whole past it), an error body's `{"error": …}` text for the
// log, and Retry-After.

import type {Dispatcher} from 'undici';
import {BackendError} from './backend.ts';

/** How much of a server's `{"error": …}` text goes into a log line. */
const errorTextLimit = 500;

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

/** The `error` string of an error body (all three protocols write `{"error": "…"}`), shortened for a log line. */
export function errorText(body: Buffer): string | undefined {
  try {
    const error = (JSON.parse(body.toString('utf8')) as {error?: unknown} | null)?.error;
    return typeof error === 'string' ? error.slice(0, errorTextLimit) : undefined;
  } catch {
    return undefined;
  }
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
