// The simulated network of DESIGN §4 as its own HTTP server (`npm run backend`), so that the
// whole path, HTTP backend client included, can be exercised for real. It speaks the three
// protocols the gateway speaks (DESIGN §10), each answered as its specification says:
//
//   GET /healthz -> 200 {"status": "ok"}
//   POST /predict {"model", "agent_type", "vectors": [[...], ...]} -> 200 {"vector": [...]}    ours
//   /v2/…                the Open Inference Protocol, binary tensors included (v2.ts)
//   /v1/models/…         TensorFlow Serving's REST API (tfserving.ts)
//
// Our /predict validates its input as a real model server would: 400 for anything but a non-empty
// rectangular matrix of finite numbers with valid names (src/names.ts: the names the gateway
// itself accepts, so whatever it sends passes). Under v2 and TF Serving the models are
// those of `models` (catalog.ts: by default every name, FP64, rows of any length, version 1).

import http from 'node:http';
import {z} from 'zod';
import {Name} from '../names.ts';
import {anyModel} from './catalog.ts';
import type {ModelCatalog} from './catalog.ts';
import {predictMatrix} from './formula.ts';
import type {LatencyRange} from './latency.ts';
import {handleTfServing} from './tfserving.ts';
import {handleV2} from './v2.ts';
import {callLatency, readBody, sendJson} from './wire.ts';

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
  /** The models served under the v2 and TF Serving paths (default: every name). */
  readonly models?: ModelCatalog;
}

export function createBackendServer(options: BackendServerOptions): http.Server {
  return http.createServer(backendHandler(options));
}

/** The stand-in's request listener (a test may put it behind a fault-injecting proxy). */
export function backendHandler(options: BackendServerOptions): http.RequestListener {
  const ctx = {
    latencyMinMs: options.latencyMinMs,
    latencyMaxMs: options.latencyMaxMs,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
  };
  const models = options.models ?? anyModel;
  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname.startsWith('/v2')) return handleV2(req, res, pathname, models, ctx);
    if (pathname.startsWith('/v1/models/')) return handleTfServing(req, res, pathname, models, ctx);
    if (req.url === '/healthz' && req.method === 'GET') return sendJson(res, 200, {status: 'ok'});
    if (req.url !== '/predict') return sendJson(res, 404, {error: 'not found'});
    if (req.method !== 'POST') return sendJson(res, 405, {error: 'use POST'});
    const body = await readBody(req, res, ctx.maxBodyBytes);
    if (!body) return;
    let parsed: ReturnType<typeof PredictBody.safeParse>;
    try {
      parsed = PredictBody.safeParse(JSON.parse(body.toString('utf8')));
    } catch {
      return sendJson(res, 400, {error: 'body is not JSON'});
    }
    if (!parsed.success)
      return sendJson(res, 400, {error: parsed.error.issues[0].message, path: parsed.error.issues[0].path});
    const {model, agent_type: agentType, vectors} = parsed.data;
    await callLatency(ctx);
    sendJson(res, 200, {vector: predictMatrix(model, agentType, vectors)});
  };
  return (req, res) => {
    route(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, {error: 'internal error'});
    });
  };
}
