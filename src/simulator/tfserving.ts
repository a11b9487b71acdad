// The stand-in's TensorFlow Serving REST paths, answering as its REST API page says
// (tensorflow/serving, tensorflow_serving/g3doc/api_rest.md: "Model status API", "Predict API",
// "JSON mapping", "JSON conformance"):
//
//   GET  /v1/models/{m}[/versions/{v}]            {"model_version_status": [{"version", "state": "AVAILABLE", "status": …}]}
//   POST /v1/models/{m}[/versions/{v}]:predict    {"instances": [[…], …]} -> {"predictions": [p, …] or [[p], …]}
//                                                 {"inputs": [[…], …]}    -> {"outputs": …} (the columnar format)
//
// Errors are an HTTP error status with {"error": "…"}: 404 "Servable not found for request:
// Latest(m)" (or Specific(m, v)), 400 for input the model cannot take. A non-finite prediction is
// written as the token NaN, Infinity or -Infinity, as TF Serving writes it.

import type http from 'node:http';
import {nonFiniteAsNull} from '../protocol/json-floats.ts';
import {rowsTensor} from '../protocol/v2-binary.ts';
import {servedValues, servedVersion} from './catalog.ts';
import type {ModelCatalog, SimulatedModel} from './catalog.ts';
import {callLatency, readBody, sendError, sendJson} from './wire.ts';
import type {StandInContext} from './wire.ts';

const modelPath = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(:predict)?$/;

/** Answers a request whose path starts with /v1/models/. */
export async function handleTfServing(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  models: ModelCatalog,
  ctx: StandInContext,
): Promise<void> {
  const match = modelPath.exec(pathname);
  if (!match) return sendError(res, 404, `Malformed request: ${req.method} ${pathname.slice(0, 200)}`);
  let name: string;
  try {
    name = decodeURIComponent(match[1]);
  } catch {
    return sendError(res, 400, 'the model name is not valid percent-encoding');
  }
  const asked = match[2];
  const predict = match[3] === ':predict';
  if (req.method !== (predict ? 'POST' : 'GET')) return sendError(res, 405, predict ? 'use POST' : 'use GET');
  const model = models(name);
  const version = model && servedVersion(model, asked);
  if (!model || !version)
    return sendError(
      res,
      404,
      `Servable not found for request: ${asked === undefined ? `Latest(${name})` : `Specific(${name}, ${asked})`}`,
    );
  if (!predict) {
    const versions = asked === undefined ? model.versions : [version];
    return sendJson(res, 200, {
      model_version_status: versions.map((v) => ({
        version: v,
        state: 'AVAILABLE',
        status: {error_code: 'OK', error_message: ''},
      })),
    });
  }
  const body = await readBody(req, res, ctx.maxBodyBytes);
  if (!body) return;
  let request: {instances?: unknown; inputs?: unknown} | null;
  try {
    request = JSON.parse(body.toString('utf8'));
  } catch {
    try {
      // TF Serving takes NaN and Infinity tokens in requests too ("JSON conformance").
      request = JSON.parse(nonFiniteAsNull(body.toString('utf8')));
    } catch {
      return sendError(res, 400, 'JSON Parse error: the request body is not JSON');
    }
  }
  const rowFormat = request?.instances !== undefined;
  const rows = rowFormat ? request?.instances : request?.inputs;
  if (rowFormat === (request?.inputs !== undefined))
    return sendError(res, 400, "Missing 'inputs' or 'instances' key (a request has either, not both)");
  const problem = matrixProblem(rows, model);
  if (problem) return sendError(res, 400, problem);
  const matrix = rows as number[][];
  await callLatency(ctx);
  const d = matrix[0].length;
  const values = servedValues(name, model, rowsTensor(matrix, model.datatype), d);
  const items = Array.from(values, (v) => (model.outputShape === 'rows' ? number(v) : `[${number(v)}]`));
  sendJson(res, 200, `{"${rowFormat ? 'predictions' : 'outputs'}":[${items.join(',')}]}`);
}

/** Why `rows` is not a list of rows of the model's length, all numbers; undefined when it is. */
function matrixProblem(rows: unknown, model: SimulatedModel): string | undefined {
  if (!Array.isArray(rows) || rows.length === 0) return 'instances must be a non-empty list of rows';
  const d = Array.isArray(rows[0]) ? rows[0].length : -1;
  if (d < 1) return 'each instance must be a non-empty list of numbers';
  if (model.d !== -1 && d !== model.d)
    return `input size does not match signature: the model takes rows of ${model.d} values, got ${d}`;
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== d) return 'all instances must have the same shape';
    if (!row.every((v) => typeof v === 'number')) return 'instances must be numbers';
  }
  return undefined;
}

/** A float as TF Serving writes it: a JSON number, or NaN, Infinity, -Infinity. */
function number(v: number): string {
  return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}
