// What every path of the stand-in (src/simulator/server.ts) does alike: read a body within a limit,
// answer JSON, take the simulated latency.

import type http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';
import {sampleLatencyMs} from './latency.ts';
import type {LatencyRange} from './latency.ts';

export interface StandInContext extends LatencyRange {
  readonly maxBodyBytes: number;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json'});
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** The model servers' error object (v2 and TF Serving alike): `{"error": "…"}`. */
export function sendError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, {error: message});
}

/** The request body, or undefined after answering 413 (too large) or when the client went away. */
export async function readBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  limit: number,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        sendError(res, 413, 'body too large');
        return undefined;
      }
      chunks.push(chunk);
    }
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks, size);
}

/** One simulated backend call's latency. */
export function callLatency(range: LatencyRange): Promise<void> {
  const ms = sampleLatencyMs(range);
  return ms > 0 ? sleep(ms) : Promise.resolve();
}

/**
 * A value of a request shown in an error message without recursing into it (String() and
 * JSON.stringify throw RangeError on a list nested 100,000 deep): a string cut to `limit`
 * characters, a number, or what kind of thing it is.
 */
export function shown(value: unknown, limit: number): string {
  if (typeof value === 'string') return value.slice(0, limit);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  if (!Array.isArray(value)) return 'an object';
  return value.length <= 8 && value.every((v) => typeof v === 'number')
    ? `[${value.join(',')}]`
    : `a list of ${value.length}`;
}
