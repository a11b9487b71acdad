// The simulated network of DESIGN §4 as its own HTTP server (`npm run backend`), so that the
// whole path, HTTP backend client included, can be exercised for real.
//
//   GET /healthz -> 200 {"status": "ok"}
//   POST /predict {"model", "agent_type", "vectors": [[...], ...]} -> 200 {"vector": [...]}
//
// It validates its input as a real model server would: 400 for anything but a non-empty
// rectangular matrix of finite numbers with valid names.

import http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';
import {z} from 'zod';
import {predictMatrix} from './formula.ts';
import {sampleLatencyMs} from './latency.ts';
import type {LatencyRange} from './latency.ts';

const Name = z.string().min(1).max(128);
const PredictBody = z
  .object({
    model: Name,
    agent_type: Name,
    vectors: z.array(z.array(z.number()).min(1)).min(1),
  })
  .refine((b) => b.vectors.every((row) => row.length === b.vectors[0].length), {
    message: 'vectors must be a rectangular matrix',
    path: ['vectors'],
  });

export interface BackendServerOptions extends LatencyRange {
  readonly maxBodyBytes?: number;
}

export function createBackendServer(options: BackendServerOptions): http.Server {
  const limit = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, {'content-type': 'application/json'});
    res.end(JSON.stringify(body));
  };
  return http.createServer(async (req, res) => {
    if (req.url === '/healthz' && req.method === 'GET') return send(res, 200, {status: 'ok'});
    if (req.url !== '/predict') return send(res, 404, {error: 'not found'});
    if (req.method !== 'POST') return send(res, 405, {error: 'use POST'});
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) return send(res, 413, {error: 'body too large'});
        chunks.push(chunk);
      }
    } catch {
      return; // client went away
    }
    let parsed: ReturnType<typeof PredictBody.safeParse>;
    try {
      parsed = PredictBody.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      return send(res, 400, {error: 'body is not JSON'});
    }
    if (!parsed.success) return send(res, 400, {error: parsed.error.issues[0].message, path: parsed.error.issues[0].path});
    const {model, agent_type: agentType, vectors} = parsed.data;
    await sleep(sampleLatencyMs(options));
    send(res, 200, {vector: predictMatrix(model, agentType, vectors)});
  });
}
