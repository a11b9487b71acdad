// Configuration: every environment variable of DESIGN §6, read and validated once at start
// (env-schema.ts says what each accepts), into one frozen Config. A bad value stops the process
// with a message naming the variable, what it accepts and what it got. Worker threads never read
// process.env: they get the parts of this object they need.

import type {KeyObject} from 'node:crypto';
import {defaultPoolSize} from './cpus.ts';
import {envSchema} from './env-schema.ts';
import type {LogLevel, Role} from './env-schema.ts';
import type {OnnxSignature} from './onnx-signature.ts';
import {redactUrl} from './redact.ts';

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
  | HttpBackendOptions
  | OnnxBackendOptions
  // The model servers' own protocols (DESIGN §10; workers/backend/v2.ts, tfserving.ts).
  | V2BackendOptions
  | TfServingBackendOptions;

/** Our HTTP protocol at `url` (DESIGN §4), with every HTTP backend's timeout, retries and reply limit. */
export interface HttpBackendOptions extends HttpDefaults {
  readonly kind: 'http';
  readonly url: string;
}

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
  /** Keys with their own metric series; the others are summed under `_other`. */
  readonly metricsMaxKeys: number;
  readonly maxConnections: number;
  /** New requests are refused while the main thread's heap is above this share of its limit. */
  readonly maxHeapFraction: number;
  /** Bearer tokens accepted on /predict; empty = open. */
  readonly apiKeys: readonly string[];
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** `all`: one process; `gateway` / `actors`: the two roles of a cluster joined by NATS. */
  readonly role: Role;
  /** For the cluster roles: NATS servers (credentials may be in the URL) and the subject prefix. */
  readonly nats: NatsOptions | undefined;
  /** For the cluster roles: the secret every frame is signed with, and this node's name. */
  readonly cluster: ClusterOptions | undefined;
}

export interface ClusterOptions {
  /** CLUSTER_KEY (or CLUSTER_KEY_FILE's text): a KeyObject, which no log line or inspect() shows. */
  readonly key: KeyObject;
  /** CLUSTER_NODE: this node's name in the subjects (NATS permissions bind it); undefined = random per start. */
  readonly node: string | undefined;
}

export interface NatsOptions {
  /** Servers, comma-separated; `user:pass@` or `token@` in a URL are taken out and never logged. */
  readonly url: string;
  readonly prefix: string;
  /** NATS_TOKEN: a token, when not in the URL. */
  readonly token?: string;
  /** NATS_CREDS: the path of a .creds file (JWT and NKey seed). */
  readonly credsFile?: string;
  /** NATS_TLS_*: TLS on the bus (paths, read by the NATS client); absent = TLS only if the server asks. */
  readonly tls?: {readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string};
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Every HTTP backend's timeout per call, retries and reply limit (BACKEND_TIMEOUT_MS, BACKEND_RETRIES, MAX_BACKEND_REPLY_BYTES). */
export interface HttpDefaults {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly maxReplyBytes: number;
}

/** The HTTP backend at `url`, with the global timeout, retries and reply limit. */
export function httpBackend(url: string, defaults: HttpDefaults): HttpBackendOptions {
  return {kind: 'http', url, ...defaults};
}

/** Parses the environment once. Empty strings count as unset. Throws ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const present: Env = {};
  for (const name of Object.keys(envSchema.shape)) {
    const value = env[name];
    // API_KEYS set but empty would silently turn auth off: it is refused, not taken as unset.
    if (value !== undefined && (value.trim() !== '' || name === 'API_KEYS')) present[name] = value;
  }
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const given = present[name];
      // Keys and tokens are never echoed; URLs are shown without their credentials.
      const secret = name === 'API_KEYS' || name === 'NATS_TOKEN' || name === 'CLUSTER_KEY';
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
    poolSize: e.ACTOR_POOL_SIZE ?? defaultPoolSize(),
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
    metricsMaxKeys: e.METRICS_MAX_KEYS,
    maxConnections: e.MAX_CONNECTIONS,
    maxHeapFraction: e.MAX_HEAP_FRACTION,
    apiKeys: Object.freeze(e.API_KEYS ?? []),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    role: e.ROLE,
    nats: e.NATS_URL
      ? Object.freeze({
          url: e.NATS_URL,
          prefix: e.NATS_PREFIX,
          token: e.NATS_TOKEN,
          credsFile: e.NATS_CREDS,
          tls: natsTls(e),
        })
      : undefined,
    cluster:
      e.ROLE === 'all'
        ? undefined
        : Object.freeze({key: (e.CLUSTER_KEY ?? e.CLUSTER_KEY_FILE) as KeyObject, node: e.CLUSTER_NODE}),
  });
}

/** The NATS client's TLS settings, when any NATS_TLS_* is set. */
function natsTls(e: {NATS_TLS_CA?: string; NATS_TLS_CERT?: string; NATS_TLS_KEY?: string}): NatsOptions['tls'] {
  if (!e.NATS_TLS_CA && !e.NATS_TLS_CERT) return undefined;
  return Object.freeze({caFile: e.NATS_TLS_CA, certFile: e.NATS_TLS_CERT, keyFile: e.NATS_TLS_KEY});
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
