// Configuration: every environment variable of DESIGN §6, read and validated once at start.
// A bad value stops the process with a message naming the variable and what it accepts.
// Worker threads never read process.env: they get the parts of this object they need.

import os from 'node:os';
import {z} from 'zod';
import {redactUrl} from './redact.ts';
import type {OnnxSignature} from '../workers/backend/onnx-signature.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `at least ${min}`).max(max, `at most ${max}`));

/** A number in (0, 1]. */
const fraction = (example: string) =>
  z
    .string()
    .trim()
    .regex(/^(0?\.\d+|1(\.0*)?)$/, `a fraction greater than 0 and at most 1, e.g. ${example}`)
    .transform(Number)
    .pipe(z.number().gt(0, 'greater than 0').max(1, 'at most 1'));

const port = int(0, 65535);
/** ACTOR_POOL_SIZE's upper bound (a cluster peer claiming more threads is refused as well). */
export const maxActorPoolSize = 256;
const ms = (min = 0) => int(min, 24 * 3600 * 1000);

const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const roles = ['all', 'gateway', 'actors'] as const;
export type Role = (typeof roles)[number];

const schema = z
  .object({
    PORT: port.default(8000),
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    ACTOR_POOL_SIZE: int(1, maxActorPoolSize).optional(),
    MAX_BATCH_SIZE: int(1, 100_000).default(32),
    MAX_WAIT_MS: z
      .string()
      .trim()
      .regex(/^(auto|\d+)$/, 'auto, or an integer of milliseconds')
      .transform((v) => (v === 'auto' ? ('auto' as const) : Number(v)))
      .pipe(z.union([z.literal('auto'), z.number().int().max(24 * 3600 * 1000, 'at most a day')]))
      .default('auto'),
    MAX_WAIT_FRACTION: fraction('0.02').default(0.02),
    MODELS_FILE: z.string().trim().min(1).optional(),
    MAX_CONCURRENT_BATCHES: int(0, 1_000_000).default(0),
    BACKEND_URL: z
      .url({protocol: /^https?$/, error: 'an http:// or https:// URL'})
      .optional(),
    BACKEND_LATENCY_MIN_MS: ms().default(3000),
    BACKEND_LATENCY_MAX_MS: ms().default(7000),
    BACKEND_TIMEOUT_MS: ms(1).default(15_000),
    BACKEND_RETRIES: int(0, 100).default(2),
    BACKEND_PORT: port.default(9000),
    MAX_BACKEND_REPLY_BYTES: int(64, 1 << 30).default(8 * 1024 * 1024),
    REQUEST_TIMEOUT_MS: ms(1).default(30_000),
    MAX_BODY_BYTES: int(2, 1 << 30).default(1_048_576),
    MAX_AGENTS_PER_REQUEST: int(1, 1_000_000).default(256),
    MAX_VECTOR_LENGTH: int(1, 10_000_000).default(4096),
    MAX_MAILBOXES: int(1, 1_000_000).default(1024),
    MAX_PENDING_PER_MAILBOX: int(1).default(10_000),
    MAX_PENDING_TOTAL: int(1).default(100_000),
    MAX_KEYS_PER_REQUEST: int(1, 100_000).default(32),
    CLIENT_SHARE: fraction('0.5').default(0.5),
    METRICS_MAX_KEYS: int(1, 10_000).default(32),
    MAX_CONNECTIONS: int(1, 10_000_000).default(20_000),
    MAX_HEAP_FRACTION: fraction('0.85').default(0.85),
    API_KEYS: z
      .string()
      .transform((s) => s.split(',').map((k) => k.trim()))
      .refine((keys) => keys.every((k) => k.length > 0), 'comma-separated non-empty keys (an empty entry would be a key nobody can send)')
      .refine((keys) => keys.every((k) => !/\s/.test(k)), 'keys without whitespace (a bearer token cannot carry it)')
      .optional(),
    SHUTDOWN_TIMEOUT_MS: ms(0).default(15_000),
    LOG_LEVEL: z.enum(levels, `one of ${levels.join(', ')}`).default('info'),
    ROLE: z.enum(roles, `one of ${roles.join(', ')}`).default('all'),
    NATS_URL: z
      .string()
      .trim()
      .refine(
        (v) => v.split(',').every((u) => /^(nats|tls):\/\/([^/@\s]+@)?[^/@\s:]+(:\d{1,5})?\/?$/.test(u.trim())),
        'nats://[user:pass@|token@]host[:port], comma-separated for several servers',
      )
      .optional(),
    NATS_TOKEN: z.string().trim().min(1).optional(),
    NATS_CREDS: z.string().trim().min(1).optional(),
    NATS_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'NATS subject tokens (letters, digits, _ and -, dot-separated)')
      .default('agent-batcher'),
  })
  .refine((c) => c.ROLE === 'all' || c.NATS_URL !== undefined, {
    path: ['NATS_URL'],
    message: 'required with ROLE=gateway or ROLE=actors',
  })
  .refine((c) => c.ROLE !== 'all' || c.NATS_URL === undefined, {
    path: ['ROLE'],
    message: 'gateway or actors when NATS_URL is set (ROLE=all is one process and needs no NATS)',
  })
  .refine((c) => c.BACKEND_LATENCY_MIN_MS <= c.BACKEND_LATENCY_MAX_MS, {
    path: ['BACKEND_LATENCY_MAX_MS'],
    message: 'must be at least BACKEND_LATENCY_MIN_MS',
  });

/** A batch window: a number of ms, or `auto` (follows the key's backend latency). */
export type WaitSetting = number | 'auto';

export interface BatchingOptions {
  /** Rows per backend call. */
  readonly maxBatchSize: number;
  /** Longest wait of the oldest pending row before its batch is cut. */
  readonly maxWaitMs: WaitSetting;
  /** For `auto`: the window's share of the key's measured backend latency. */
  readonly waitFraction: number;
  /** Backend calls in flight per key; 0 = unlimited. */
  readonly maxConcurrentBatches: number;
  /** A model's `latency_slo_ms` (DESIGN §11): batches sized so the oldest row's wait + predicted cost stays within it. */
  readonly latencySloMs?: number;
}

export type BackendOptions =
  | {readonly kind: 'simulated'; readonly latencyMinMs: number; readonly latencyMaxMs: number}
  | {
      readonly kind: 'http';
      readonly url: string;
      readonly timeoutMs: number;
      readonly retries: number;
      readonly maxReplyBytes: number;
    }
  | OnnxBackendOptions
  // The model servers' own protocols (DESIGN §10; workers/backend/v2.ts, tfserving.ts).
  | V2BackendOptions
  | TfServingBackendOptions;

/** Datatypes of a v2 input tensor this service sends (the rows are float64 here; FP32 is rounded by the server). */
export type V2Datatype = 'FP32' | 'FP64';

/**
 * A model behind the Open Inference Protocol (Triton, KServe, MLServer, TorchServe, OpenVINO).
 * `input`, `output` and `datatype` left undefined are discovered by each actor thread from the
 * model's metadata when it first needs them, and again after a SIGHUP.
 */
export interface V2BackendOptions extends HttpDefaults {
  readonly kind: 'v2';
  /** The server's base URL (credentials allowed); `/v2/models/…` is appended. */
  readonly url: string;
  readonly model: string;
  readonly version: string | undefined;
  readonly input: string | undefined;
  readonly output: string | undefined;
  readonly datatype: V2Datatype | undefined;
  /** Triton's binary tensor data extension, both ways. */
  readonly binary: boolean;
}

/** A model behind TensorFlow Serving's REST API (`:predict`, row format). */
export interface TfServingBackendOptions extends HttpDefaults {
  readonly kind: 'tfserving';
  readonly url: string;
  readonly model: string;
  readonly version: string | undefined;
}

/**
 * An ONNX model run in the actor threads (DESIGN §10; workers/backend/onnx.ts). `signature` is
 * filled at start and on SIGHUP by the load-time check (src/onnx-models.ts), never by the main
 * thread loading the model.
 */
export interface OnnxBackendOptions {
  readonly kind: 'onnx';
  /** Absolute path of the .onnx file. */
  readonly path: string;
  /** The path as MODELS_FILE wrote it (GET /models shows this one). */
  readonly file: string;
  readonly intraOpThreads: number;
  readonly signature: OnnxSignature | undefined;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly poolSize: number;
  readonly batching: BatchingOptions;
  readonly backend: BackendOptions;
  /** Timeout, retries and reply limit of every HTTP backend (BACKEND_URL and the registry's). */
  readonly httpDefaults: HttpDefaults;
  /** MODELS_FILE: the model registry's path, read at start and on SIGHUP (src/registry.ts). */
  readonly modelsFile: string | undefined;
  readonly backendPort: number;
  readonly latencyMinMs: number;
  readonly latencyMaxMs: number;
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxAgentsPerRequest: number;
  readonly maxVectorLength: number;
  readonly maxMailboxes: number;
  readonly maxPendingPerMailbox: number;
  readonly maxPendingTotal: number;
  readonly maxKeysPerRequest: number;
  /** One client's share of the pending and mailbox limits (1 = none). */
  readonly clientShare: number;
  /** Keys with their own metric series; the others are summed under `_other`. */
  readonly metricsMaxKeys: number;
  readonly maxConnections: number;
  /** New requests are refused while the main thread's heap is above this share of its limit. */
  readonly maxHeapFraction: number;
  /** Bearer tokens accepted on /predict; empty = open. */
  readonly apiKeys: readonly string[];
  readonly shutdownTimeoutMs: number;
  readonly logLevel: (typeof levels)[number];
  /** `all`: one process; `gateway` / `actors`: the two roles of a cluster joined by NATS. */
  readonly role: Role;
  /** For the cluster roles: NATS servers (credentials may be in the URL) and the subject prefix. */
  readonly nats: NatsOptions | undefined;
}

export interface NatsOptions {
  /** Servers, comma-separated; `user:pass@` or `token@` in a URL are taken out and never logged. */
  readonly url: string;
  readonly prefix: string;
  /** NATS_TOKEN: a token, when not in the URL. */
  readonly token?: string;
  /** NATS_CREDS: the path of a .creds file (JWT and NKey seed). */
  readonly credsFile?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Parses the environment once. Empty strings count as unset. Throws ConfigError listing every bad variable. */
export interface HttpDefaults {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly maxReplyBytes: number;
}

/** The HTTP backend at `url`, with the global timeout, retries and reply limit. */
export function httpBackend(url: string, defaults: HttpDefaults): BackendOptions {
  return {kind: 'http', url, ...defaults};
}

export function loadConfig(env: Env = process.env): Config {
  const present: Env = {};
  for (const name of Object.keys(schema.shape)) {
    const value = env[name];
    // API_KEYS set but empty would silently turn auth off: it is refused, not taken as unset.
    if (value !== undefined && (value.trim() !== '' || name === 'API_KEYS')) present[name] = value;
  }
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const given = present[name];
      // Keys and tokens are never echoed; URLs are shown without their credentials.
      const secret = name === 'API_KEYS' || name === 'NATS_TOKEN';
      const got = given === undefined || secret ? '' : ` (got ${JSON.stringify(redactUrl(given))})`;
      return `  ${name}: ${issue.message}${got}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const httpDefaults: HttpDefaults = Object.freeze({
    timeoutMs: e.BACKEND_TIMEOUT_MS,
    retries: e.BACKEND_RETRIES,
    maxReplyBytes: e.MAX_BACKEND_REPLY_BYTES,
  });
  const backend: BackendOptions = e.BACKEND_URL
    ? httpBackend(e.BACKEND_URL, httpDefaults)
    : {kind: 'simulated', latencyMinMs: e.BACKEND_LATENCY_MIN_MS, latencyMaxMs: e.BACKEND_LATENCY_MAX_MS};
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    poolSize: e.ACTOR_POOL_SIZE ?? Math.max(1, os.availableParallelism() - 1),
    batching: Object.freeze({
      maxBatchSize: e.MAX_BATCH_SIZE,
      maxWaitMs: e.MAX_WAIT_MS,
      waitFraction: e.MAX_WAIT_FRACTION,
      maxConcurrentBatches: e.MAX_CONCURRENT_BATCHES,
    }),
    backend: Object.freeze(backend),
    httpDefaults,
    modelsFile: e.MODELS_FILE,
    backendPort: e.BACKEND_PORT,
    latencyMinMs: e.BACKEND_LATENCY_MIN_MS,
    latencyMaxMs: e.BACKEND_LATENCY_MAX_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxAgentsPerRequest: e.MAX_AGENTS_PER_REQUEST,
    maxVectorLength: e.MAX_VECTOR_LENGTH,
    maxMailboxes: e.MAX_MAILBOXES,
    maxPendingPerMailbox: e.MAX_PENDING_PER_MAILBOX,
    maxPendingTotal: e.MAX_PENDING_TOTAL,
    maxKeysPerRequest: e.MAX_KEYS_PER_REQUEST,
    clientShare: e.CLIENT_SHARE,
    metricsMaxKeys: e.METRICS_MAX_KEYS,
    maxConnections: e.MAX_CONNECTIONS,
    maxHeapFraction: e.MAX_HEAP_FRACTION,
    apiKeys: Object.freeze(e.API_KEYS ?? []),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    role: e.ROLE,
    nats: e.NATS_URL ? Object.freeze({url: e.NATS_URL, prefix: e.NATS_PREFIX, token: e.NATS_TOKEN, credsFile: e.NATS_CREDS}) : undefined,
  });
}

/** For entry points: the config, or a clear message on stderr and exit code 1. */
export function loadConfigOrExit(program: string): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${program}: ${error.message}\n`);
    process.exit(1);
  }
}
