// The model registry (MODELS_FILE, DESIGN §7): which models are served, each with its own backend,
// input size and batch settings. Read and validated with zod at start (a bad file stops the
// process, naming the file and the field) and on SIGHUP (a bad file is refused and the old
// registry stays). Without MODELS_FILE every valid name is served with the global settings.
//
// The registry is plain data (structured-cloneable): the main thread validates requests with it
// and hands the same object to every actor thread, which picks each key's backend and batching.

import {readFileSync} from 'node:fs';
import {dirname, resolve} from 'node:path';
import {z} from 'zod';
import type {BackendOptions, BatchingOptions, Config} from './config.ts';
import {httpBackend} from './config.ts';
import {httpUrl} from './http-url.ts';
import {describeModelServer, TfServingSpec, tfServingBackend, V2Spec, v2Backend} from './model-servers.ts';
import {Name} from './names.ts';
import {jsonErrorWhere, redactQuoted, redactUrl} from './redact.ts';

/** One model's effective settings: absent fields of the file take the global setting. */
export interface ModelEntry {
  /** Agent types served; undefined = any valid agent type. */
  readonly agentTypes: readonly string[] | undefined;
  /** Every vector must have this length; undefined = any length up to MAX_VECTOR_LENGTH. */
  readonly vectorLength: number | undefined;
  readonly backend: BackendOptions;
  readonly batching: BatchingOptions;
}

export interface Registry {
  /** Served models by name; undefined = any valid model name, with the defaults. */
  readonly models: ReadonlyMap<string, ModelEntry> | undefined;
  readonly defaults: {readonly backend: BackendOptions; readonly batching: BatchingOptions};
}

export class RegistryError extends Error {
  override name = 'RegistryError';
}

const positive = (max: number) => z.number().int().min(1).max(max);

/**
 * How a model's batches are computed (DESIGN §10), a union on `kind`: `simulated`, `http` (also
 * written `backend_url`), `onnx`, and the model servers' protocols `v2` (the Open Inference
 * Protocol) and `tfserving` (src/model-servers.ts), each an encoder/decoder pair around the one
 * HTTP client.
 */
const BackendSpec = z.discriminatedUnion('kind', [
  z.strictObject({kind: z.literal('simulated')}),
  z.strictObject({kind: z.literal('http'), url: httpUrl()}),
  z.strictObject({
    kind: z.literal('onnx'),
    /** The .onnx file, relative to MODELS_FILE's folder unless absolute. */
    path: z.string().min(1).max(4096),
    /** ORT's threads for one run; 1 = the actor thread alone. */
    intra_op_threads: z.number().int().min(1).max(64).optional(),
  }),
  V2Spec,
  TfServingSpec,
]);

const ModelFile = z
  .strictObject({
    agent_types: z.array(Name).min(1).optional(),
    vector_length: positive(10_000_000).optional(),
    /** An http(s) URL, or "simulated" for the in-process network: the short form of `backend`. */
    backend_url: z.union([z.literal('simulated'), httpUrl('an http:// or https:// URL, or "simulated"')]).optional(),
    backend: BackendSpec.optional(),
    max_batch_size: positive(100_000).optional(),
    max_wait_ms: z
      .union([
        z.literal('auto'),
        z
          .number()
          .int()
          .min(0)
          .max(24 * 3600 * 1000),
      ])
      .optional(),
    max_concurrent_batches: z.number().int().min(0).max(1_000_000).optional(),
    /** DESIGN §11: the oldest row's wait plus the batch's predicted cost stays within this. */
    latency_slo_ms: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600 * 1000)
      .optional(),
  })
  .refine((m) => m.backend === undefined || m.backend_url === undefined, {
    path: ['backend'],
    message: 'give backend or backend_url, not both',
  });

const RegistryFile = z.strictObject({
  models: z.record(Name, ModelFile).refine((m) => Object.keys(m).length > 0, 'must list at least one model'),
});

/** The registry of MODELS_FILE, or the open registry when it is unset. Throws RegistryError. */
export function loadRegistry(config: Config): Registry {
  const defaults = {backend: config.backend, batching: config.batching};
  const path = config.modelsFile;
  if (!path) return {models: undefined, defaults};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    // JSON.parse's message quotes the text around the fault, which may be a backend_url's password.
    const why = error instanceof SyntaxError ? jsonErrorWhere(error) : `cannot be read: ${(error as Error).message}`;
    throw new RegistryError(`MODELS_FILE ${path}: ${why}`);
  }
  const parsed = RegistryFile.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues
      .slice(0, 20)
      .map((i) => `  ${i.path.join('.') || '(top level)'}: ${redactQuoted(i.message)}`);
    throw new RegistryError(`MODELS_FILE ${path} is invalid:\n${lines.join('\n')}`);
  }
  // A model whose vectors no request may carry would fail every request: refused here instead.
  const tooLong = Object.entries(parsed.data.models)
    .filter(([, m]) => m.vector_length !== undefined && m.vector_length > config.maxVectorLength)
    .map(
      ([name, m]) =>
        `  models.${name}.vector_length: ${m.vector_length} is more than MAX_VECTOR_LENGTH (${config.maxVectorLength}); raise MAX_VECTOR_LENGTH or lower vector_length`,
    );
  if (tooLong.length > 0) throw new RegistryError(`MODELS_FILE ${path} is invalid:\n${tooLong.join('\n')}`);
  const models = new Map<string, ModelEntry>();
  for (const [name, m] of Object.entries(parsed.data.models)) {
    const backend = backendOf(m, config, dirname(resolve(path)));
    // An in-thread model is work-conserving (DESIGN §11): no window and one run at a time, unless the file says otherwise.
    const inThread = backend.kind === 'onnx';
    models.set(name, {
      agentTypes: m.agent_types,
      vectorLength: m.vector_length,
      backend,
      batching: {
        maxBatchSize: m.max_batch_size ?? config.batching.maxBatchSize,
        maxWaitMs: m.max_wait_ms ?? (inThread ? 0 : config.batching.maxWaitMs),
        waitFraction: config.batching.waitFraction,
        maxConcurrentBatches: m.max_concurrent_batches ?? (inThread ? 1 : config.batching.maxConcurrentBatches),
        latencySloMs: m.latency_slo_ms,
      },
    });
  }
  return {models, defaults};
}

/** A model's backend from `backend` or `backend_url`; absent = the global one. */
function backendOf(m: z.infer<typeof ModelFile>, config: Config, folder: string): BackendOptions {
  const spec =
    m.backend ??
    (m.backend_url === 'simulated'
      ? {kind: 'simulated' as const}
      : m.backend_url === undefined
        ? undefined
        : {kind: 'http' as const, url: m.backend_url});
  switch (spec?.kind) {
    case undefined:
      return config.backend;
    case 'simulated':
      return {kind: 'simulated', latencyMinMs: config.latencyMinMs, latencyMaxMs: config.latencyMaxMs};
    case 'http':
      return httpBackend(spec.url, config.httpDefaults);
    case 'onnx':
      return {
        kind: 'onnx',
        path: resolve(folder, spec.path),
        file: spec.path,
        intraOpThreads: spec.intra_op_threads ?? 1,
        signature: undefined,
      };
    case 'v2':
      return v2Backend(spec, config.httpDefaults);
    case 'tfserving':
      return tfServingBackend(spec, config.httpDefaults);
  }
}

/** A key's fitted cost (DESIGN §11), as GET /models shows it. */
export interface CostView {
  readonly agent_type: string;
  readonly fixed_ms: number;
  readonly per_row_ms: number;
  readonly calls: number;
}

/** What GET /models shows: every served model with its effective settings; no credentials. */
export function describeRegistry(registry: Registry, costs: (model: string) => readonly CostView[] = () => []): object {
  const backendOf = (b: BackendOptions) => {
    switch (b.kind) {
      case 'http':
        return redactUrl(b.url);
      case 'simulated':
        return 'simulated';
      case 'onnx':
        return {
          kind: 'onnx',
          path: b.file,
          intra_op_threads: b.intraOpThreads,
          input: b.signature?.input ?? null,
          output: b.signature?.output ?? null,
        };
      case 'v2':
      case 'tfserving':
        return describeModelServer(b);
    }
  };
  const batchingOf = (b: BatchingOptions) => ({
    max_batch_size: b.maxBatchSize,
    max_wait_ms: b.maxWaitMs,
    max_concurrent_batches: b.maxConcurrentBatches,
    latency_slo_ms: b.latencySloMs ?? null,
  });
  const models: Record<string, object> = {};
  for (const [name, m] of registry.models ?? []) {
    models[name] = {
      agent_types: m.agentTypes ?? null,
      vector_length: m.vectorLength ?? null,
      backend: backendOf(m.backend),
      ...batchingOf(m.batching),
      cost: costs(name),
    };
  }
  return {
    any_model: registry.models === undefined,
    defaults: {backend: backendOf(registry.defaults.backend), ...batchingOf(registry.defaults.batching)},
    models,
  };
}
