// The stand-in's Open Inference Protocol (REST) paths, answering as the specification says
// (kserve/open-inference-protocol, specification/protocol/inference_rest.md; kserve
// docs/predict-api/v2/required_api.md), with Triton's binary tensor data extension both ways:
//
//   GET  /v2                                         server metadata (extensions: binary_tensor_data)
//   GET  /v2/health/live, /v2/health/ready           200, empty body ("Health": 200 is true)
//   GET  /v2/models/{m}[/versions/{v}]               $metadata_model_response
//   GET  /v2/models/{m}[/versions/{v}]/ready         200, or 404 for a model it does not know
//   POST /v2/models/{m}[/versions/{v}]/infer         $inference_response: the model's values (catalog.ts)
//
// Errors are an HTTP error status with the error object {"error": "…"}: 404 for a model or version
// it does not know (Triton's wording), 400 for a request the model cannot take (another input name,
// datatype or row length, data that does not fill the shape, binary sizes that do not add up),
// 405 for another method, 413 for a body over the limit.

import type http from 'node:http';
import type {V2Datatype} from '../config.ts';
import {
  binaryBody,
  binaryDataSize,
  binarySlices,
  FramingError,
  floatsFromBytes,
  floatsToBytes,
  headerLengthHeader,
  splitBody,
} from '../protocol/v2-binary.ts';
import {servedValues, servedVersion} from './catalog.ts';
import type {ModelCatalog, SimulatedModel} from './catalog.ts';
import {callLatency, readBody, sendError, sendJson, shown} from './wire.ts';
import type {StandInContext} from './wire.ts';

const modelPath = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/infer|\/ready)?$/;

/** A request the model cannot take: answered with its status and the error object. */
export class V2RequestError extends Error {
  override name = 'V2RequestError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Answers a request whose path starts with /v2. */
export async function handleV2(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  models: ModelCatalog,
  ctx: StandInContext,
): Promise<void> {
  if (pathname === '/v2' || pathname === '/v2/') {
    if (req.method !== 'GET') return sendError(res, 405, 'use GET');
    return sendJson(res, 200, {name: 'agent-batcher-stand-in', version: '2', extensions: ['binary_tensor_data']});
  }
  if (pathname === '/v2/health/live' || pathname === '/v2/health/ready') {
    if (req.method !== 'GET') return sendError(res, 405, 'use GET');
    res.writeHead(200, {'content-length': '0'});
    return void res.end();
  }
  const match = modelPath.exec(pathname);
  if (!match) return sendError(res, 404, `no such endpoint: ${pathname.slice(0, 200)}`);
  let name: string;
  let asked: string | undefined;
  try {
    name = decodeURIComponent(match[1]);
    asked = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
  } catch {
    return sendError(res, 400, 'the model name or version is not valid percent-encoding');
  }
  const endpoint = match[3];
  if (req.method !== (endpoint === '/infer' ? 'POST' : 'GET'))
    return sendError(res, 405, endpoint === '/infer' ? 'use POST' : 'use GET');
  const model = models(name);
  const version = model && servedVersion(model, asked);
  if (!model || !version) {
    if (endpoint === '/ready') {
      res.writeHead(404, {'content-length': '0'});
      return void res.end();
    }
    return sendError(
      res,
      404,
      `Request for unknown model: '${name}'${asked === undefined ? '' : ` version ${asked}`} is not found`,
    );
  }
  if (endpoint === '/ready') {
    res.writeHead(200, {'content-length': '0'});
    return void res.end();
  }
  if (endpoint === undefined) return sendJson(res, 200, modelMetadata(name, model));
  const body = await readBody(req, res, ctx.maxBodyBytes);
  if (!body) return;
  let request: InferRequest;
  try {
    request = parseInferRequest(body, req.headers[headerLengthHeader], name, model);
  } catch (error) {
    if (error instanceof V2RequestError) return sendError(res, error.status, error.message);
    if (error instanceof FramingError) return sendError(res, 400, error.message);
    throw error;
  }
  await callLatency(ctx);
  const reply = inferResponse(request, name, version, model);
  res.writeHead(200, reply.headers);
  res.end(reply.body);
}

/** The model's $metadata_model_response. */
export function modelMetadata(name: string, model: SimulatedModel): object {
  return {
    name,
    versions: model.versions,
    platform: 'agent-batcher-stand-in',
    inputs: [{name: model.input, datatype: model.datatype, shape: [-1, model.d]}],
    outputs: [{name: model.output, datatype: model.datatype, shape: model.outputShape === 'rows' ? [-1] : [-1, 1]}],
  };
}

export interface InferRequest {
  readonly id: string | undefined;
  /** The input tensor, row-major, in the model's datatype. */
  readonly tensor: Float32Array | Float64Array;
  readonly rows: number;
  readonly d: number;
  /** The output as binary data (its `binary_data`, else the request's `binary_data_output`). */
  readonly binaryOutput: boolean;
}

/** An inference request for `model`, as the specification and the binary extension write it; throws V2RequestError or FramingError. */
export function parseInferRequest(
  body: Buffer,
  headerLength: string | string[] | undefined,
  name: string,
  model: SimulatedModel,
): InferRequest {
  const refuse = (message: string) => new V2RequestError(400, message);
  const split = splitBody(body, headerLength);
  let request: {id?: unknown; inputs?: unknown; outputs?: unknown; parameters?: {binary_data_output?: unknown}} | null;
  try {
    request = JSON.parse((split ? split.json : body).toString('utf8'));
  } catch {
    throw refuse('the request is not JSON (a binary request needs the Inference-Header-Content-Length header)');
  }
  if (typeof request !== 'object' || request === null || !Array.isArray(request.inputs))
    throw refuse('the request has no "inputs" list');
  if (request.id !== undefined && typeof request.id !== 'string') throw refuse('"id" must be a string');
  const inputs: unknown[] = request.inputs;
  if (inputs.length !== 1) throw refuse(`expected 1 inputs but got ${inputs.length} inputs for model '${name}'`);
  const input = inputs[0] as {name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown};
  if (input?.name !== model.input)
    throw refuse(`unexpected inference input '${shown(input?.name, 64)}' for model '${name}'`);
  if (input.datatype !== model.datatype) {
    throw refuse(
      `inference input '${model.input}' data-type is '${shown(input.datatype, 16)}', but model '${name}' expects '${model.datatype}'`,
    );
  }
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw refuse(
      `unexpected shape ${shown(shape, 64)} for input '${model.input}' of model '${name}': expected [rows, D] with rows, D >= 1`,
    );
  }
  const [rows, d] = shape as [number, number];
  if (model.d !== -1 && d !== model.d)
    throw refuse(
      `unexpected shape for input '${model.input}' of model '${name}': expected [-1,${model.d}], got [${rows},${d}]`,
    );
  const slices = split ? binarySlices(inputs, split.binary) : undefined;
  const bytes = slices?.get(0);
  let tensor: Float32Array | Float64Array;
  if (bytes !== undefined || binaryDataSize(input) !== undefined) {
    const expected = rows * d * (model.datatype === 'FP32' ? 4 : 8);
    if (bytes?.length !== expected)
      throw refuse(
        `input '${model.input}' has ${bytes?.length ?? 0} bytes of binary data; shape [${rows},${d}] of ${model.datatype} takes ${expected}`,
      );
    tensor = floatsFromBytes(bytes, model.datatype);
  } else {
    tensor = jsonTensor(input.data, rows, d, model.datatype, refuse);
  }
  const outputs = request.outputs === undefined ? [] : request.outputs;
  if (!Array.isArray(outputs)) throw refuse('"outputs" must be a list');
  let binaryOutput = request.parameters?.binary_data_output === true;
  for (const output of outputs as {name?: unknown; parameters?: {binary_data?: unknown}}[]) {
    if (output?.name !== model.output)
      throw refuse(`unexpected inference output '${shown(output?.name, 64)}' for model '${name}'`);
    if (typeof output.parameters?.binary_data === 'boolean') binaryOutput = output.parameters.binary_data;
  }
  return {id: request.id, tensor, rows, d, binaryOutput};
}

/** Tensor data given in JSON, flat or nested by rows ("Tensor Data"), as a tensor of the datatype. */
function jsonTensor(
  data: unknown,
  rows: number,
  d: number,
  datatype: V2Datatype,
  refuse: (m: string) => Error,
): Float32Array | Float64Array {
  if (!Array.isArray(data)) throw refuse('the input has no "data" (nor binary_data_size)');
  const flat = data.length === rows && data.every((row) => Array.isArray(row)) ? data.flat() : data;
  if (flat.length !== rows * d)
    throw refuse(`the input's data has ${flat.length} elements; its shape [${rows},${d}] takes ${rows * d}`);
  if (!flat.every((v) => typeof v === 'number')) throw refuse("the input's data must be numbers");
  return datatype === 'FP32' ? Float32Array.from(flat as number[]) : Float64Array.from(flat as number[]);
}

/** The $inference_response for a parsed request: JSON, or JSON + binary output when it was asked for. */
export function inferResponse(
  request: InferRequest,
  name: string,
  version: string,
  model: SimulatedModel,
): {headers: Record<string, string>; body: string | Buffer} {
  const values = servedValues(name, model, request.tensor, request.d);
  const shape = model.outputShape === 'rows' ? [request.rows] : [request.rows, 1];
  const head = {model_name: name, model_version: version, ...(request.id !== undefined && {id: request.id})};
  if (!request.binaryOutput) {
    // JSON has no NaN or infinities: a non-finite value is written as null (JSON.stringify's rule).
    const output = {name: model.output, datatype: model.datatype, shape, data: Array.from(values)};
    return {headers: {'content-type': 'application/json'}, body: JSON.stringify({...head, outputs: [output]})};
  }
  const bytes = floatsToBytes(model.datatype === 'FP32' ? Float32Array.from(values) : values);
  const output = {name: model.output, datatype: model.datatype, shape, parameters: {binary_data_size: bytes.length}};
  const {body, headerLength} = binaryBody(JSON.stringify({...head, outputs: [output]}), [bytes]);
  return {headers: {'content-type': 'application/octet-stream', [headerLengthHeader]: String(headerLength)}, body};
}
