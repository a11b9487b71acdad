// The registry's model-server backends (DESIGN §10): `v2` (the Open Inference Protocol: NVIDIA
// Triton, KServe, Seldon MLServer, TorchServe, OpenVINO Model Server) and `tfserving` (TensorFlow
// Serving's REST API). Their MODELS_FILE syntax, what they become, and what GET /models shows of
// them. The wire formats themselves are workers/backend/v2.ts and workers/backend/tfserving.ts.

import {z} from 'zod';
import type {HttpDefaults, TfServingBackendOptions, V2BackendOptions} from './config.ts';
import {httpUrl} from './http-url.ts';
import {redactUrl} from './redact.ts';

/** A server's base URL (http-url.ts): the protocol's paths are appended to it, so it has no query or fragment. */
const baseUrl = httpUrl().refine(
  (u) => !/[?#]/.test(u),
  "the server's base URL, without a query or a fragment (the protocol's paths are appended to it)",
);

/** A path segment: the names model servers use (Triton's model repository folders, KServe names). */
const segment = (what: string, max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, `${what}: letters, digits, ., _ and - (not starting with . or -)`);

/** A tensor name (goes into the JSON body only). */
const tensorName = z.string().min(1).max(256);

export const V2Spec = z.strictObject({
  kind: z.literal('v2'),
  url: baseUrl,
  /** The model's name on the server (POST {url}/v2/models/{model}[/versions/{version}]/infer). */
  model: segment('a model name', 256),
  version: segment('a model version', 64).optional(),
  input: tensorName.optional(),
  output: tensorName.optional(),
  datatype: z.enum(['FP32', 'FP64'], 'FP32 or FP64').optional(),
  binary: z.boolean().optional(),
});

export const TfServingSpec = z.strictObject({
  kind: z.literal('tfserving'),
  url: baseUrl,
  model: segment('a model name', 256),
  /** TF Serving's versions are integers. */
  version: z
    .string()
    .regex(/^\d{1,18}$/, 'a version number (digits)')
    .optional(),
});

export function v2Backend(spec: z.infer<typeof V2Spec>, defaults: HttpDefaults): V2BackendOptions {
  return {
    kind: 'v2',
    url: spec.url,
    model: spec.model,
    version: spec.version,
    input: spec.input,
    output: spec.output,
    datatype: spec.datatype,
    binary: spec.binary ?? false,
    ...defaults,
  };
}

export function tfServingBackend(spec: z.infer<typeof TfServingSpec>, defaults: HttpDefaults): TfServingBackendOptions {
  return {kind: 'tfserving', url: spec.url, model: spec.model, version: spec.version, ...defaults};
}

/**
 * What GET /models shows of a model-server backend: the URL without credentials, and the names
 * given in the registry (null: discovered by each actor thread from the server's metadata).
 */
export function describeModelServer(b: V2BackendOptions | TfServingBackendOptions): object {
  const common = {kind: b.kind, url: redactUrl(b.url), model: b.model, version: b.version ?? null};
  if (b.kind === 'tfserving') return common;
  return {...common, input: b.input ?? null, output: b.output ?? null, datatype: b.datatype ?? null, binary: b.binary};
}
