// TensorFlow Serving's REST API (DESIGN §10, `"backend": {"kind": "tfserving", …}`): an encoder and
// a decoder around the shared client (http-client.ts). Followed: tensorflow/serving,
// tensorflow_serving/g3doc/api_rest.md, sections "Predict API" (row format), "JSON mapping" and
// "JSON conformance", and its error object.
//
//   POST {url}/v1/models/{model}[/versions/{version}]:predict {"instances": [[…], …]}
//     -> {"predictions": [p, …]} or {"predictions": [[p], …]}
//   errors: an HTTP error status with {"error": "…"} (404: "Servable not found for request: …")
//
// - A prediction is a number or a one-element list; anything else fails its row only
//   (`backend_bad_response`), as does a non-finite value, which TF Serving writes as the bare
//   tokens NaN, Infinity or -Infinity (read here as null: src/protocol/json-floats.ts).
// - A 404 (the server does not know the model or the version) fails the batch with
//   `backend_error` at once, unsplit; any other refusal follows DESIGN §4's table (halving).

import type {TfServingBackendOptions} from '../../src/config.ts';
import {BackendError} from './backend.ts';
import {HttpClient} from './http-client.ts';
import type {Refusal, WireProtocol} from './wire-protocol.ts';
import {jsonRows} from '../../src/protocol/json-floats.ts';
import {jsonHeaders, parseJsonReply, replyBounds} from './json-wire.ts';

/** The client speaking TF Serving's REST API to one model. */
export function tfServingClient(options: TfServingBackendOptions): HttpClient {
  return new HttpClient(options, tfServingProtocol(options));
}

/** TF Serving's encoder and decoder for one model. */
export function tfServingProtocol(options: TfServingBackendOptions): WireProtocol {
  const path = tfServingModelPath(options.model, options.version);
  const label = `TF Serving model ${JSON.stringify(options.model)}${options.version === undefined ? '' : ` version ${options.version}`}`;
  return {
    encode: (_call, rows) => ({
      method: 'POST',
      path: `${path}:predict`,
      headers: jsonHeaders,
      body: `{"instances":[${jsonRows(rows, true)}]}`,
    }),
    decode: (reply, _call, rows) =>
      decodePredictions(parseJsonReply(reply.body, `${label}: reply`, replyBounds(rows)), label),
    wholeBatch: (refusal: Refusal) =>
      refusal.status === 404
        ? new BackendError('backend_error', `${label}: the server does not know this model (HTTP 404)`, {
            cause: refusal.error && new Error(refusal.error),
          })
        : undefined,
  };
}

/** `/v1/models/{model}[/versions/{version}]`: the model status path, to which `:predict` is appended. */
export function tfServingModelPath(model: string, version: string | undefined): string {
  return `/v1/models/${encodeURIComponent(model)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
}

/** One value per row from `{"predictions": […]}`: scalars, or one-element rows ([[p], …]). */
export function decodePredictions(reply: unknown, label: string): unknown[] {
  const predictions = (reply as {predictions?: unknown} | null)?.predictions;
  if (!Array.isArray(predictions))
    throw new BackendError('backend_bad_response', `${label}: reply has no "predictions" list`);
  return predictions.map((p: unknown) => (Array.isArray(p) && p.length === 1 ? p[0] : p));
}
