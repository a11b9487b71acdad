// The Open Inference Protocol over REST (DESIGN §10, `"backend": {"kind": "v2", …}`): NVIDIA Triton,
// KServe, Seldon MLServer, TorchServe, OpenVINO Model Server. An encoder and a decoder around the
// shared client (http-client.ts: pool, retries, cap, halving, credentials). Followed: the
// protocol's REST specification (kserve/open-inference-protocol, specification/protocol/
// inference_rest.md; kserve docs/predict-api/v2/required_api.md), sections "Model Metadata",
// "Inference" (request, response and error objects) and "Tensor Data" (row-major, flat or nested);
// and Triton's binary tensor data extension (src/protocol/v2-binary.ts) when the registry says `"binary": true`.
//
//   GET  {url}/v2/models/{model}[/versions/{version}]        -> $metadata_model_response
//   POST {url}/v2/models/{model}[/versions/{version}]/infer
//        {"id": "b-1-17", "inputs": [{"name", "shape": [rows, D], "datatype": "FP32"|"FP64", "data": [row-major]}],
//         "outputs": [{"name"}]}                              -> {"id", "outputs": [{"name", "shape": [rows] | [rows, 1], "data"}]}
//   errors: an HTTP error status with {"error": "…"}
//
// - Names and datatype: from MODELS_FILE, else from the model's metadata, fetched when the thread
//   first needs them and again after a SIGHUP: one fetch shared by the batches waiting for it,
//   bounded by the backend's timeout and retries (never by one batch's deadline: a batch whose
//   deadline comes first gives up alone); a failed one is tried again by the next batch. A model
//   the server does not know, or one that is
//   not one FP32/FP64 input [-1, D] and one output [-1] or [-1, 1], fails its batches with
//   `backend_error` naming the model and what was found (v2-signature.ts); rows of another length
//   than D are `backend_rejected` without a call.
// - A 404 from the infer endpoint (the model was unloaded, or its name is wrong) fails the batch
//   with `backend_error` at once, unsplit, and asks for the metadata again; any other refusal
//   follows DESIGN §4's table (halving isolates the refused rows).
// - The reply (v2-reply.ts): the named output, FP32 or FP64, shape [rows] or [rows, 1], data flat
//   or nested, JSON or binary (whatever the server sent); another datatype is `backend_error`,
//   anything else `backend_bad_response` for the batch. An `id` in the reply must be the request's.

import type {V2BackendOptions} from '../../src/config.ts';
import {BackendError} from './backend.ts';
import type {BackendCall} from './backend.ts';
import {HttpClient} from './http-client.ts';
import type {Exchanger, Refusal, WireProtocol, WireReply, WireRequest} from './wire-protocol.ts';
import {jsonRows} from '../../src/protocol/json-floats.ts';
import {brief, jsonHeaders, parseJsonReply} from './json-wire.ts';
import type {JsonBounds} from './json-wire.ts';
import {binaryBody, FramingError, floatsToBytes, headerLengthHeader, rowsTensor} from '../../src/protocol/v2-binary.ts';
import {decodeInferReply} from './v2-reply.ts';
import {givenSignature, signatureFromMetadata} from './v2-signature.ts';
import type {V2Signature} from './v2-signature.ts';

/** A model's metadata: a few levels, and a thousand tensors or so (the signature check refuses more than one input anyway). */
const metadataBounds: JsonBounds = {maxDepth: 32, maxValues: 65_536};

/** The client speaking the Open Inference Protocol to one model. */
export function v2Client(options: V2BackendOptions): HttpClient {
  return new HttpClient(options, new V2Protocol(options));
}

/** `/v2/models/{model}[/versions/{version}]`: the model's metadata path, to which `/infer` is appended. */
export function v2ModelPath(model: string, version: string | undefined): string {
  return `/v2/models/${encodeURIComponent(model)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
}

export class V2Protocol implements WireProtocol {
  readonly #options: V2BackendOptions;
  readonly #path: string;
  /** How error messages name the model: `v2 model "value_net" version "1"`. */
  readonly #label: string;
  readonly #given: V2Signature | undefined;
  #discovery: Promise<V2Signature> | undefined;
  /** The signature each call in flight was prepared with (its halves are encoded with the same). */
  readonly #prepared = new WeakMap<BackendCall, V2Signature>();

  constructor(options: V2BackendOptions) {
    this.#options = options;
    this.#path = v2ModelPath(options.model, options.version);
    this.#label = `v2 model ${JSON.stringify(options.model)}${options.version === undefined ? '' : ` version ${JSON.stringify(options.version)}`}`;
    this.#given = givenSignature(options);
  }

  async prepare(call: BackendCall, client: Exchanger): Promise<void> {
    const signature = this.#given ?? (await this.#discoveredBy(call.deadline, client));
    const length = call.rows[0]?.length ?? 0;
    if (signature.d !== -1 && length !== signature.d) {
      throw new BackendError(
        'backend_rejected',
        `${this.#label} takes rows of ${signature.d} floats (input ${brief(signature.input)}); this row has ${length} (vector_length ${signature.d} in MODELS_FILE refuses such rows at the door)`,
      );
    }
    this.#prepared.set(call, signature);
  }

  registryReloaded(): void {
    this.#discovery = undefined;
  }

  wholeBatch(refusal: Refusal): BackendError | undefined {
    if (refusal.status !== 404) return undefined;
    this.#discovery = undefined;
    return new BackendError('backend_error', `${this.#label}: the server does not know this model (HTTP 404)`, {
      cause: refusal.error && new Error(refusal.error),
    });
  }

  encode(call: BackendCall, rows: readonly Float64Array[], id: string): WireRequest {
    const s = this.#prepared.get(call) as V2Signature;
    const path = `${this.#path}/infer`;
    const input = `"name":${JSON.stringify(s.input)},"shape":[${rows.length},${rows[0]?.length ?? 0}],"datatype":"${s.datatype}"`;
    const output = `"name":${JSON.stringify(s.output)}`;
    if (!this.#options.binary) {
      const body = `{"id":${JSON.stringify(id)},"inputs":[{${input},"data":[${jsonRows(rows, false)}]}],"outputs":[{${output}}]}`;
      return {method: 'POST', path, headers: jsonHeaders, body};
    }
    const tensor = floatsToBytes(rowsTensor(rows, s.datatype));
    const header = `{"id":${JSON.stringify(id)},"inputs":[{${input},"parameters":{"binary_data_size":${tensor.length}}}],"outputs":[{${output},"parameters":{"binary_data":true}}]}`;
    const {body, headerLength} = binaryBody(header, [tensor]);
    return {
      method: 'POST',
      path,
      headers: {'content-type': 'application/octet-stream', [headerLengthHeader]: String(headerLength)},
      body,
    };
  }

  decode(reply: WireReply, call: BackendCall, rows: number, id: string): ArrayLike<unknown> {
    const s = this.#prepared.get(call) as V2Signature;
    try {
      return decodeInferReply(reply, s.output, rows, id, this.#label);
    } catch (error) {
      if (error instanceof FramingError)
        throw new BackendError('backend_bad_response', `${this.#label}: binary reply: ${error.message}`);
      throw error;
    }
  }

  /**
   * The signature from the model's metadata, by `deadline` (this batch's): one fetch at a time,
   * shared by every batch that needs it and bounded by the backend's own timeout and retries, not
   * by the first asker's deadline. A batch whose deadline comes first gives up alone; the fetch
   * goes on for the others. Kept until a SIGHUP or a 404; a failed fetch is forgotten, so the next
   * batch asks again.
   */
  #discoveredBy(deadline: number, client: Exchanger): Promise<V2Signature> {
    if (!this.#discovery) {
      const {timeoutMs, retries} = this.#options;
      const discovery = this.#fetchSignature(Date.now() + timeoutMs * (retries + 1), client);
      this.#discovery = discovery;
      discovery.catch(() => {
        if (this.#discovery === discovery) this.#discovery = undefined;
      });
    }
    const shared = this.#discovery;
    return new Promise((resolve, reject) => {
      const late = () =>
        reject(
          new BackendError(
            'backend_error',
            `${this.#label}: model metadata not fetched within this batch's deadline (the fetch goes on for later batches)`,
          ),
        );
      const timer = setTimeout(late, Math.max(0, deadline - Date.now()));
      shared.then(
        (signature) => {
          clearTimeout(timer);
          resolve(signature);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async #fetchSignature(deadline: number, client: Exchanger): Promise<V2Signature> {
    const outcome = await client.exchange({method: 'GET', path: this.#path}, deadline).catch((error: unknown) => {
      if (!(error instanceof BackendError)) throw error;
      throw new BackendError(error.code, `${this.#label}: model metadata: ${error.message}`, {cause: error.cause});
    });
    if (outcome.kind === 'refused') {
      const why =
        outcome.status === 404
          ? 'the server does not know this model'
          : 'the server refused the model metadata request';
      throw new BackendError('backend_error', `${this.#label}: ${why} (HTTP ${outcome.status})`, {
        cause: outcome.error && new Error(outcome.error),
      });
    }
    const signature = signatureFromMetadata(
      parseJsonReply(outcome.reply.body, `${this.#label}: model metadata`, metadataBounds),
      this.#options,
    );
    if ('expected' in signature)
      throw new BackendError(
        'backend_error',
        `${this.#label}: expected ${signature.expected}; found ${signature.found}`,
      );
    return signature;
  }
}
