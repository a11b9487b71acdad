// What every environment variable of DESIGN §6 accepts, as one zod schema (envSchema), with the
// checks across variables (limits that contradict each other, the cluster roles' variables). Each
// message says what the variable accepts; config.ts reads the environment with it, once.

import {createPrivateKey, createSecretKey, X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {z} from 'zod';
import {httpUrl} from './http-url.ts';
import {credentialsDecode, credentialsMessage} from './redact.ts';

/** One server of NATS_URL (credentials without `/`, `@` or spaces: percent-encode them). */
const natsServerShape = /^(nats|tls):\/\/([^/@\s]+@)?[^/@\s:]+(:\d{1,5})?\/?$/;

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

/**
 * [smaller, larger, why]: the first may not exceed the second (agents of one request may all be
 * of one key, and each of a request's keys needs a mailbox).
 */
const limitPairs = [
  [
    'MAX_AGENTS_PER_REQUEST',
    'MAX_PENDING_PER_MAILBOX',
    'a request whose agents are all of one key could never be admitted',
  ],
  ['MAX_PENDING_PER_MAILBOX', 'MAX_PENDING_TOTAL', 'one mailbox can never hold more than all of them'],
  ['MAX_KEYS_PER_REQUEST', 'MAX_MAILBOXES', 'a request with that many keys could never be admitted'],
] as const;

/**
 * CLUSTER_KEY's minimum strength: `openssl rand -base64 32` gives 44 characters of about 30
 * distinct ones; a short key, or one repeating a few characters, is refused at start.
 */
export const minClusterKeyLength = 32;
const minClusterKeyDistinct = 8;
const clusterKeyHint = 'make one with `openssl rand -base64 32` and give every gateway and actor host the same one';
/** The cluster secret, as text without surrounding whitespace: never echoed (the parsed config holds only its KeyObject). */
const clusterKey = z
  .string()
  .trim()
  .refine((k) => k.length >= minClusterKeyLength, {
    message: `a secret of at least ${minClusterKeyLength} characters (${clusterKeyHint})`,
    abort: true,
  })
  .refine(
    (k) => new Set(k).size >= minClusterKeyDistinct,
    `a secret of at least ${minClusterKeyDistinct} distinct characters, not a repeated pattern (${clusterKeyHint})`,
  )
  .transform((k) => createSecretKey(Buffer.from(k, 'utf8')));

/** The text of the file at `path`; a file that cannot be read is the variable's error (its text is never shown). */
function readText(path: string, ctx: z.RefinementCtx): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `the path of a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}), relative paths read from ${process.cwd()}`,
    });
    return undefined;
  }
}

/** A PEM file for the NATS connection's TLS, parsed once at start so that a wrong file stops it here. */
const pemFile = (what: string, parse: (pem: string) => unknown) =>
  z
    .string()
    .trim()
    .min(1)
    .superRefine((path, ctx) => {
      const pem = readText(path, ctx);
      if (pem === undefined) return;
      try {
        parse(pem);
      } catch {
        ctx.addIssue({code: 'custom', message: `the path of a PEM ${what} (the file is not one)`});
      }
    });

const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof levels)[number];
const roles = ['all', 'gateway', 'actors'] as const;
export type Role = (typeof roles)[number];

/** Variables of the cluster roles only: set with ROLE=all, they are refused (not silently ignored). */
const clusterOnly = [
  'CLUSTER_KEY',
  'CLUSTER_KEY_FILE',
  'CLUSTER_NODE',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
] as const;

export const envSchema = z
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
      .pipe(
        z.union([
          z.literal('auto'),
          z
            .number()
            .int()
            .max(24 * 3600 * 1000, 'at most a day'),
        ]),
      )
      .default('auto'),
    MAX_WAIT_FRACTION: fraction('0.02').default(0.02),
    MODELS_FILE: z.string().trim().min(1).optional(),
    MAX_CONCURRENT_BATCHES: int(0, 1_000_000).default(0),
    BACKEND_URL: httpUrl().optional(),
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
    // Gone: the fair share binds only under contention and has no setting. Refused rather than
    // ignored, so that a deployment relying on it learns what it does now.
    CLIENT_SHARE: z
      .never({
        error:
          'no longer used: one client is held to its fair share only while other clients wait, with no setting (README, "Fair share"); unset it',
      })
      .optional(),
    METRICS_MAX_KEYS: int(1, 10_000).default(32),
    MAX_CONNECTIONS: int(1, 10_000_000).default(20_000),
    MAX_HEAP_FRACTION: fraction('0.85').default(0.85),
    API_KEYS: z
      .string()
      .transform((s) => s.split(',').map((k) => k.trim()))
      .refine(
        (keys) => keys.every((k) => k.length > 0),
        'comma-separated non-empty keys (an empty entry would be a key nobody can send)',
      )
      .refine((keys) => keys.every((k) => !/\s/.test(k)), 'keys without whitespace (a bearer token cannot carry it)')
      .optional(),
    SHUTDOWN_TIMEOUT_MS: ms(0).default(15_000),
    LOG_LEVEL: z.enum(levels, `one of ${levels.join(', ')}`).default('info'),
    ROLE: z.enum(roles, `one of ${roles.join(', ')}`).default('all'),
    // Checked here as the NATS client will read it (src/cluster/nats.ts natsServers), so that no
    // start-up path meets a value it cannot parse: a URL parser's error carries its raw input.
    NATS_URL: z
      .string()
      .trim()
      .refine(
        (v) => v.split(',').every((u) => natsServerShape.test(u.trim())),
        'nats://[user:pass@|token@]host[:port], comma-separated for several servers (a password with /, @ or spaces percent-encoded)',
      )
      .refine(
        (v) =>
          v
            .split(',')
            .every((u) => !natsServerShape.test(u.trim()) || (URL.canParse(u.trim()) && credentialsDecode(u.trim()))),
        `each server a URL that parses (a host name of letters, digits, '-' and '.'): ${credentialsMessage}`,
      )
      .optional(),
    NATS_TOKEN: z.string().trim().min(1).optional(),
    NATS_CREDS: z.string().trim().min(1).optional(),
    NATS_TLS_CA: pemFile('CA certificate', (pem) => new X509Certificate(pem)).optional(),
    NATS_TLS_CERT: pemFile('client certificate', (pem) => new X509Certificate(pem)).optional(),
    NATS_TLS_KEY: pemFile('private key', (pem) => createPrivateKey(pem)).optional(),
    CLUSTER_KEY: clusterKey.optional(),
    CLUSTER_KEY_FILE: z
      .string()
      .trim()
      .min(1)
      .transform((path, ctx) => readText(path, ctx) ?? z.NEVER)
      .pipe(clusterKey)
      .optional(),
    CLUSTER_NODE: z
      .string()
      .trim()
      .regex(
        /^[A-Za-z0-9_-]{1,64}$/,
        'a NATS subject token of 1 to 64 letters, digits, _ or - (the name NATS permissions give this node)',
      )
      .optional(),
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
  .refine((c) => c.ROLE === 'all' || c.CLUSTER_KEY !== undefined || c.CLUSTER_KEY_FILE !== undefined, {
    path: ['CLUSTER_KEY'],
    message: `required with ROLE=gateway or ROLE=actors: every cluster frame is signed with it (${clusterKeyHint}, or put it in a file and set CLUSTER_KEY_FILE)`,
  })
  .refine((c) => c.CLUSTER_KEY === undefined || c.CLUSTER_KEY_FILE === undefined, {
    path: ['CLUSTER_KEY_FILE'],
    message: 'unset when CLUSTER_KEY is set (one cluster key, from one place)',
  })
  .refine((c) => c.ROLE !== 'all' || clusterOnly.every((name) => c[name] === undefined), {
    path: ['ROLE'],
    message: `gateway or actors when any of ${clusterOnly.join(', ')} is set (ROLE=all is one process: no NATS, no frames to sign)`,
  })
  .refine((c) => (c.NATS_TLS_CERT === undefined) === (c.NATS_TLS_KEY === undefined), {
    path: ['NATS_TLS_KEY'],
    message: 'set together with NATS_TLS_CERT (a client certificate and its private key)',
  })
  .refine((c) => c.BACKEND_LATENCY_MIN_MS <= c.BACKEND_LATENCY_MAX_MS, {
    path: ['BACKEND_LATENCY_MAX_MS'],
    message: 'must be at least BACKEND_LATENCY_MIN_MS',
  })
  .superRefine((c, ctx) => {
    // Limits that contradict each other: a request the schema accepts could never be admitted,
    // even on an idle service. Refused here, so that every valid request fits an idle service.
    for (const [name, limit, why] of limitPairs) {
      if (c[name] > c[limit]) {
        ctx.addIssue({code: 'custom', path: [name], message: `at most ${limit} (${c[limit]}), is ${c[name]}: ${why}`});
      }
    }
  });
