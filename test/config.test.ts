import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import {execFile} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {inspect, promisify} from 'node:util';
import {ConfigError, loadConfig} from '../src/config.ts';
import {defaultPoolSize} from '../src/cpus.ts';

test('defaults follow DESIGN §6', (t) => {
  const c = loadConfig({});
  t.is(c.port, 8000);
  t.is(c.host, '0.0.0.0');
  t.is(c.poolSize, defaultPoolSize(), 'cores − 1 over the CPUs this process may use (test/cpus.test.ts)');
  t.deepEqual(c.batching, {maxBatchSize: 32, maxWaitMs: 'auto', waitFraction: 0.02, maxConcurrentBatches: 0});
  t.is(loadConfig({MAX_WAIT_MS: '20'}).batching.maxWaitMs, 20);
  t.throws(() => loadConfig({MAX_WAIT_MS: 'soon'}), {message: /MAX_WAIT_MS: auto, or an integer/});
  t.is(c.maxKeysPerRequest, 32);
  t.is(c.modelsFile, undefined);
  t.deepEqual(c.backend, {kind: 'simulated', latencyMinMs: 3000, latencyMaxMs: 7000});
  t.is(c.requestTimeoutMs, 30000);
  t.is(c.maxBodyBytes, 1048576);
  t.is(c.maxAgentsPerRequest, 256);
  t.is(c.maxVectorLength, 4096);
  t.is(c.maxMailboxes, 1024);
  t.is(c.maxPendingPerMailbox, 10000);
  t.is(c.maxPendingTotal, 100000);
  t.deepEqual(c.apiKeys, []);
  t.is(c.shutdownTimeoutMs, 15000);
  t.is(c.logLevel, 'info');
  t.is(c.backendPort, 9000);
  t.true(Object.isFrozen(c));
});

test('BACKEND_URL selects the HTTP backend with its timeout and retries', (t) => {
  const c = loadConfig({BACKEND_URL: 'http://127.0.0.1:9000/predict', BACKEND_TIMEOUT_MS: '500', BACKEND_RETRIES: '0'});
  t.deepEqual(c.backend, {
    kind: 'http',
    url: 'http://127.0.0.1:9000/predict',
    timeoutMs: 500,
    retries: 0,
    maxReplyBytes: 8 << 20,
  });
});

test('API_KEYS is a comma-separated list; other empty values count as unset', (t) => {
  t.deepEqual(loadConfig({API_KEYS: 'a, b,c'}).apiKeys, ['a', 'b', 'c']);
  t.is(loadConfig({PORT: ''}).port, 8000);
});

test('API_KEYS set but empty, with an empty entry or with whitespace inside a key stops the process, never echoing a key', (t) => {
  for (const value of ['', ' ', ',', 'k1,,k2', 'secret-1,has space']) {
    const error = t.throws(() => loadConfig({API_KEYS: value}), {instanceOf: ConfigError}, JSON.stringify(value));
    t.regex(error!.message, /API_KEYS: /);
    t.false(error!.message.includes('secret-1'), 'no key in the message');
  }
});

test('credentials in a URL never appear in a config error', (t) => {
  const error = t.throws(() => loadConfig({BACKEND_URL: 'ftp://user:hunter2@host/x'}), {instanceOf: ConfigError});
  t.regex(error!.message, /BACKEND_URL: .*ftp:\/\/\[redacted\]@host/);
  t.false(error!.message.includes('hunter2'));
});

const cluster = {ROLE: 'gateway', NATS_URL: 'nats://127.0.0.1:4222'};
const goodKey = 'q4Jd0v+2mX8r/Ty7LkPz1WcA9eBnHs6uGfRiOaEl3tM=';

test('the cluster roles need CLUSTER_KEY (or CLUSTER_KEY_FILE): without it the error says how to make one', (t) => {
  const error = t.throws(() => loadConfig(cluster), {instanceOf: ConfigError});
  t.regex(error!.message, /CLUSTER_KEY: required with ROLE=gateway or ROLE=actors.*openssl rand -base64 32/);
  const c = loadConfig({...cluster, CLUSTER_KEY: goodKey, CLUSTER_NODE: 'gw1'});
  t.is(c.cluster?.node, 'gw1');
  t.is(c.cluster?.key.symmetricKeySize, goodKey.length);
  t.false(inspect(c, {depth: 5}).includes(goodKey), 'the key is a KeyObject: printing the config never shows it');
  t.false(JSON.stringify(c).includes(goodKey));
});

test('a weak CLUSTER_KEY stops the process, and no error ever shows a key', (t) => {
  for (const weak of [
    'too-short-but-secret-1',
    'abababababababababababababababababab',
    '                                        ',
  ]) {
    const error = t.throws(() => loadConfig({...cluster, CLUSTER_KEY: weak}), {instanceOf: ConfigError});
    t.regex(error!.message, /CLUSTER_KEY: (a secret of at least|required)/);
    t.false(error!.message.includes(weak.trim() || weak), 'no key in the message');
  }
  // Another variable's error lists CLUSTER_KEY's neighbours, never the key itself.
  const other = t.throws(() => loadConfig({...cluster, CLUSTER_KEY: goodKey, PORT: 'x'}), {instanceOf: ConfigError});
  t.false(other!.message.includes(goodKey));
});

test('CLUSTER_KEY_FILE reads the key from a file (trailing newline dropped); a missing or weak file names the variable and the path', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cluster-key-'));
  t.teardown(() => rmSync(dir, {recursive: true, force: true}));
  const file = path.join(dir, 'key');
  writeFileSync(file, `${goodKey}\n`);
  const fromFile = loadConfig({...cluster, ROLE: 'actors', CLUSTER_KEY_FILE: file});
  t.is(fromFile.cluster?.key.symmetricKeySize, goodKey.length);
  t.throws(() => loadConfig({...cluster, CLUSTER_KEY_FILE: path.join(dir, 'nope')}), {
    message: /CLUSTER_KEY_FILE: the path of a readable file \(ENOENT\)/,
  });
  writeFileSync(file, 'short-secret-in-a-file\n');
  const weak = t.throws(() => loadConfig({...cluster, CLUSTER_KEY_FILE: file}), {instanceOf: ConfigError});
  t.regex(weak!.message, /CLUSTER_KEY_FILE: a secret of at least 32 characters/);
  t.false(weak!.message.includes('short-secret-in-a-file'));
  writeFileSync(file, goodKey);
  t.throws(() => loadConfig({...cluster, CLUSTER_KEY: goodKey, CLUSTER_KEY_FILE: file}), {
    message: /CLUSTER_KEY_FILE: unset when CLUSTER_KEY is set/,
  });
});

test('cluster-only variables are refused with ROLE=all; CLUSTER_NODE must be one subject token; TLS files are checked at start', (t) => {
  t.throws(() => loadConfig({CLUSTER_KEY: goodKey}), {message: /ROLE: gateway or actors when any of CLUSTER_KEY/});
  t.throws(() => loadConfig({...cluster, CLUSTER_KEY: goodKey, CLUSTER_NODE: 'gw.1'}), {
    message: /CLUSTER_NODE: a NATS subject token/,
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-tls-'));
  t.teardown(() => rmSync(dir, {recursive: true, force: true}));
  const notPem = path.join(dir, 'ca.pem');
  writeFileSync(notPem, 'not a certificate');
  const error = t.throws(
    () =>
      loadConfig({...cluster, CLUSTER_KEY: goodKey, NATS_TLS_CA: notPem, NATS_TLS_CERT: path.join(dir, 'missing.pem')}),
    {instanceOf: ConfigError},
  );
  t.regex(error!.message, /NATS_TLS_CA: the path of a PEM CA certificate \(the file is not one\)/);
  t.regex(error!.message, /NATS_TLS_CERT: the path of a readable file \(ENOENT\)/);
  t.regex(error!.message, /NATS_TLS_KEY: set together with NATS_TLS_CERT/);
});

test('CLIENT_SHARE is gone and refused, saying what the share does now; MAX_KEYS_PER_REQUEST and MAX_BACKEND_REPLY_BYTES are validated', (t) => {
  for (const old of ['0.5', '1']) {
    t.throws(() => loadConfig({CLIENT_SHARE: old}), {
      message: new RegExp(
        `CLIENT_SHARE: no longer used: one client is held to its fair share only while other clients wait.* \\(got "${old}"\\)`,
      ),
    });
  }
  t.notThrows(() => loadConfig({CLIENT_SHARE: ''}), 'empty counts as unset');
  t.throws(() => loadConfig({MAX_KEYS_PER_REQUEST: '0'}), {message: /MAX_KEYS_PER_REQUEST/});
  t.throws(() => loadConfig({MAX_BACKEND_REPLY_BYTES: '1'}), {message: /MAX_BACKEND_REPLY_BYTES/});
});

test('a bad value names the variable, what it accepts and what it got', (t) => {
  const error = t.throws(() => loadConfig({MAX_BATCH_SIZE: 'lots', ACTOR_POOL_SIZE: '0', LOG_LEVEL: 'loud'}), {
    instanceOf: ConfigError,
  });
  t.regex(error!.message, /MAX_BATCH_SIZE: an integer from 1 to \d+ \(got "lots"\)/);
  t.regex(error!.message, /ACTOR_POOL_SIZE: at least 1 \(got "0"\)/);
  t.regex(error!.message, /LOG_LEVEL: one of fatal, error, warn, info, debug, trace, silent/);
  t.throws(() => loadConfig({BACKEND_URL: 'ftp://x'}), {message: /BACKEND_URL/});
  t.throws(() => loadConfig({BACKEND_LATENCY_MIN_MS: '10', BACKEND_LATENCY_MAX_MS: '5'}), {
    message: /BACKEND_LATENCY_MAX_MS/,
  });
  t.throws(() => loadConfig({PORT: '70000'}), {message: /PORT: at most 65535/});
});

test('the service refuses to start on a bad value, with the message on stderr and exit code 1', async (t) => {
  const run = promisify(execFile);
  const error = await t.throwsAsync(run(process.execPath, ['src/main.ts'], {env: {...process.env, MAX_WAIT_MS: '-5'}}));
  const failed = error as Error & {code: number; stderr: string};
  t.is(failed.code, 1);
  t.regex(failed.stderr, /MAX_WAIT_MS/);
});

test('limits that contradict each other stop the process, naming both variables and their values', (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      {MAX_PENDING_PER_MAILBOX: '50'},
      /MAX_AGENTS_PER_REQUEST: at most MAX_PENDING_PER_MAILBOX \(50\), is 256: a request whose agents are all of one key could never be admitted/,
    ],
    [
      {MAX_AGENTS_PER_REQUEST: '20', MAX_PENDING_PER_MAILBOX: '10'},
      /MAX_AGENTS_PER_REQUEST: at most MAX_PENDING_PER_MAILBOX \(10\), is 20: .* \(got "20"\)/,
    ],
    [
      {MAX_AGENTS_PER_REQUEST: '5', MAX_PENDING_PER_MAILBOX: '5', MAX_PENDING_TOTAL: '4'},
      /MAX_PENDING_PER_MAILBOX: at most MAX_PENDING_TOTAL \(4\), is 5/,
    ],
    [
      {MAX_MAILBOXES: '16'},
      /MAX_KEYS_PER_REQUEST: at most MAX_MAILBOXES \(16\), is 32: a request with that many keys could never be admitted/,
    ],
  ];
  for (const [env, message] of cases)
    t.throws(() => loadConfig(env), {instanceOf: ConfigError, message}, JSON.stringify(env));
  const equal = loadConfig({
    MAX_AGENTS_PER_REQUEST: '8',
    MAX_PENDING_PER_MAILBOX: '8',
    MAX_PENDING_TOTAL: '8',
    MAX_KEYS_PER_REQUEST: '4',
    MAX_MAILBOXES: '4',
  });
  t.is(equal.maxPendingTotal, 8, 'equal limits are consistent');
});
