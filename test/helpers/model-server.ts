// A model server for the v2 and TF Serving tests: the real stand-in (src/simulator/server.ts, with
// the catalog below) behind a recording proxy that injects faults by model name. Healthy models
// answer with the stand-in's values (catalog.ts: DESIGN §4's formula with bias(model, "")).
//
//   missing     not in the catalog: the stand-in's own 404 {"error"} (metadata and infer)
//   ints        metadata says the input is INT64 [-1, 4]      image   input FP32 [-1, 3, 224, 224]
//   twoout      metadata lists two outputs                     flaky   first infer 503 {"error"} (Retry-After: 0), then ok
//   many        metadata lists 1,000 inputs
//   poison…     400 {"error"} for any batch holding a row whose first value is 666 (v2 and TF Serving)
//   nooutput    200 whose outputs lack the asked one          wrongid 200 whose id is another request's
//   gone        metadata ok, every infer 404 (unloaded after discovery)
//   liar / liarshort / liarhuge   a binary reply whose Inference-Header-Content-Length is 5 too many,
//                                 5 too few, or past the body
//   deep…       200 whose output data (v2) or predictions (TF Serving) nest 100,000 deep
//   wide…       200 whose output data or predictions hold 300,000 values
//   ints64      200 whose output is declared INT64 (data rounded to integers)
//   refuseall   400 {"error"} for every inference call, whatever its rows
//   gated       metadata held until the test opens the gate (ModelServer.gate)
//   metaflaky   the first 3 metadata reads 500 {"error"}, then ok
//   catalog: vnet32 FP32 with output [-1]; vnet4 rows of 4; versioned versions 1, 2, 3; scalars output [-1]

import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo, Socket} from 'node:net';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {defaultModel} from '../../src/simulator/catalog.ts';
import type {ModelCatalog, SimulatedModel} from '../../src/simulator/catalog.ts';
import {createBackendServer} from '../../src/simulator/server.ts';
import {parseInferRequest} from '../../src/simulator/v2.ts';
import type {V2BackendOptions, V2Datatype} from '../../src/config.ts';

const overrides: Record<string, Partial<SimulatedModel>> = {
  vnet32: {datatype: 'FP32', outputShape: 'rows'},
  vnet4: {d: 4},
  versioned: {versions: ['1', '2', '3']},
  scalars: {outputShape: 'rows'},
};

export const testCatalog: ModelCatalog = (name) =>
  name === 'missing' ? undefined : {...defaultModel, ...overrides[name]};

/** What the stand-in answers for a row of model `name` (on the server): float32-rounded for FP32. */
export function served(name: string, row: readonly number[], datatype: V2Datatype = 'FP64'): number {
  if (datatype === 'FP64') return predictRow(bias(name, ''), row);
  return Math.fround(predictRow(bias(name, ''), row.map(Math.fround)));
}

export interface ServerCall {
  readonly method: string;
  readonly path: string;
  readonly model: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly status: number;
  readonly at: number;
}

export interface ModelServer {
  /** The server's base URL. */
  readonly url: string;
  readonly calls: ServerCall[];
  /** Inference calls (v2 infer, TF Serving predict) for a model. */
  infers(model: string): ServerCall[];
  /** Metadata reads (GET of the model's path) for a model. */
  metadataReads(model: string): ServerCall[];
  /** Holds the metadata replies of model `gated` until the returned function is called. */
  gate(): () => void;
  close(): Promise<void>;
}

const crafted: Record<string, object> = {
  many: {
    inputs: Array.from({length: 1000}, (_, i) => ({name: `i${i}`, datatype: 'FP32', shape: [-1, 1]})),
    outputs: [],
  },
  ints: {
    inputs: [{name: 'x', datatype: 'INT64', shape: [-1, 4]}],
    outputs: [{name: 'y', datatype: 'FP32', shape: [-1, 1]}],
  },
  image: {
    inputs: [{name: 'pixels', datatype: 'FP32', shape: [-1, 3, 224, 224]}],
    outputs: [{name: 'y', datatype: 'FP32', shape: [-1]}],
  },
  twoout: {
    inputs: [{name: 'input', datatype: 'FP64', shape: [-1, -1]}],
    outputs: [
      {name: 'value', datatype: 'FP64', shape: [-1, 1]},
      {name: 'policy', datatype: 'FP64', shape: [-1, 8]},
    ],
  },
};

export async function startModelServer(options: {latencyMs?: number} = {}): Promise<ModelServer> {
  const standIn = createBackendServer({
    latencyMinMs: options.latencyMs ?? 0,
    latencyMaxMs: options.latencyMs ?? 0,
    models: testCatalog,
  });
  standIn.listen(0, '127.0.0.1');
  await once(standIn, 'listening');
  const target = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  const calls: ServerCall[] = [];
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  let gate: Promise<void> = Promise.resolve();

  const proxy = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = req.url ?? '/';
    const model = /^\/v[12]\/models\/([^/:]+)/.exec(path)?.[1];
    const infer = path.endsWith('/infer') || path.endsWith(':predict');
    const at = Date.now();
    const answer = (
      status: number,
      payload: string | Buffer,
      headers: Record<string, string> = {'content-type': 'application/json'},
    ) => {
      calls.push({method: req.method ?? '', path, model, headers: req.headers, body, status, at});
      res.writeHead(status, headers);
      res.end(payload);
    };
    const n = (seen.get(`${model} ${infer}`) ?? 0) + 1;
    seen.set(`${model} ${infer}`, n);
    if (!infer && model && crafted[model])
      return answer(200, JSON.stringify({name: model, platform: 'crafted', ...crafted[model]}));
    if (infer && model === 'flaky' && n === 1)
      return answer(503, '{"error":"warming up"}', {'content-type': 'application/json', 'retry-after': '0'});
    if (infer && model === 'gone') return answer(404, `{"error":"Request for unknown model: '${model}' is not found"}`);
    if (infer && model?.startsWith('poison') && firstValues(path, req.headers, body).includes(666))
      return answer(400, '{"error":"row refused: 666"}');
    if (infer && model === 'refuseall') return answer(400, '{"error":"this server refuses every request"}');
    if (!infer && model === 'metaflaky' && n <= 3) return answer(500, '{"error":"repository not loaded yet"}');
    if (!infer && model === 'gated') await gate;
    const forwarded = await fetch(target + path, {
      method: req.method,
      headers: pick(req.headers, ['content-type', 'inference-header-content-length']),
      body: req.method === 'GET' ? undefined : body,
    });
    const headers = Object.fromEntries(
      ['content-type', 'inference-header-content-length'].flatMap((h) =>
        forwarded.headers.has(h) ? [[h, forwarded.headers.get(h) as string]] : [],
      ),
    );
    let payload: Buffer = Buffer.from(await forwarded.arrayBuffer());
    if (infer && forwarded.status === 200) {
      const length = Number(headers['inference-header-content-length']);
      if (model === 'liar') headers['inference-header-content-length'] = String(length + 5);
      if (model === 'liarshort') headers['inference-header-content-length'] = String(length - 5);
      if (model === 'liarhuge') headers['inference-header-content-length'] = String(payload.length + 100);
      if (model === 'nooutput')
        payload = Buffer.from(
          JSON.stringify({
            ...JSON.parse(payload.toString()),
            outputs: [{name: 'other', datatype: 'FP64', shape: [0], data: []}],
          }),
        );
      if (model === 'wrongid')
        payload = Buffer.from(JSON.stringify({...JSON.parse(payload.toString()), id: 'someone-else'}));
      if (model && /^(deep|wide|ints64)/.test(model)) payload = hostile(model, payload, headers);
    }
    answer(forwarded.status, payload, headers);
  });
  proxy.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    infers: (model) =>
      calls.filter((c) => c.model === model && (c.path.endsWith('/infer') || c.path.endsWith(':predict'))),
    metadataReads: (model) => calls.filter((c) => c.model === model && c.method === 'GET'),
    gate: () => {
      let open = () => {};
      gate = new Promise((resolve) => {
        open = resolve;
      });
      return open;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
      standIn.close();
      standIn.closeAllConnections();
      await Promise.all([once(proxy, 'close'), once(standIn, 'close')]);
    },
  };
}

/** The first value of every row of an inference request (v2, JSON or binary; TF Serving). */
function firstValues(path: string, headers: http.IncomingHttpHeaders, body: Buffer): number[] {
  if (path.endsWith(':predict')) return (JSON.parse(body.toString()).instances as number[][]).map((row) => row[0]);
  const model = testCatalog('poison') as SimulatedModel;
  const request = parseInferRequest(body, headers['inference-header-content-length'], 'poison', model);
  return Array.from({length: request.rows}, (_, i) => request.tensor[i * request.d]);
}

function pick(headers: http.IncomingHttpHeaders, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((h) => (typeof headers[h] === 'string' ? [[h, headers[h] as string]] : [])));
}

/**
 * The stand-in's reply (JSON, v2 or TF Serving) with its values made hostile (`deep`, `wide`) or
 * its output declared INT64 (`ints64`, JSON or binary: a binary reply's header length follows).
 */
function hostile(model: string, payload: Buffer, headers: Record<string, string>): Buffer {
  const length = Number(headers['inference-header-content-length'] ?? payload.length);
  const reply = JSON.parse(payload.subarray(0, length).toString());
  if (model.startsWith('ints64')) {
    reply.outputs[0].datatype = 'INT64';
    if (reply.outputs[0].data) reply.outputs[0].data = reply.outputs[0].data.map((v: number) => Math.round(v));
    const json = Buffer.from(JSON.stringify(reply));
    if (headers['inference-header-content-length']) headers['inference-header-content-length'] = String(json.length);
    return Buffer.concat([json, payload.subarray(length)]);
  }
  const marker = '"@values@"';
  if (reply.predictions) reply.predictions = '@values@';
  else reply.outputs[0].data = '@values@';
  const text = model.startsWith('deep')
    ? `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    : `[${new Array(300_000).fill(0).join(',')}]`;
  return Buffer.from(JSON.stringify(reply).replace(marker, text));
}

/** A v2 backend's options for `model` at `url`: names and datatype discovered, JSON, as a test sets them. */
export function v2Options(url: string, model: string, extra: Partial<V2BackendOptions> = {}): V2BackendOptions {
  return {
    kind: 'v2',
    url,
    model,
    version: undefined,
    input: undefined,
    output: undefined,
    datatype: undefined,
    binary: false,
    timeoutMs: 2000,
    retries: 2,
    maxReplyBytes: 1 << 20,
    ...extra,
  };
}
