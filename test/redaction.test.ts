// Credentials never shown, whatever their shape: config errors for NATS_URL and BACKEND_URL,
// MODELS_FILE errors (the schema's and a file that is not JSON), GET /models and the log lines,
// as a property over generated passwords full of the characters that break naive redaction
// (`/`, `+`, `=`, `@`, `:`, spaces, `?`, `#`, percent-encoding, valid or not).

import test from 'ava';
import fc from 'fast-check';
import {once} from 'node:events';
import {mkdtemp, writeFile} from 'node:fs/promises';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {ConfigError, loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {credentialForms, redactUrl, scrubSecrets} from '../src/redact.ts';
import {HttpBackend} from '../workers/backend/http.ts';
import {describeRegistry, loadRegistry, RegistryError} from '../src/registry.ts';
import {startService} from './helpers/service.ts';
import {listenLocal} from './helpers/local-server.ts';
import {v2Options} from './helpers/model-server.ts';
import type {LocalServer} from './helpers/local-server.ts';
import {BackendError} from '../workers/backend/backend.ts';
import {tfServingClient} from '../workers/backend/tfserving.ts';
import {v2Client} from '../workers/backend/v2.ts';

/**
 * The secret's letters come from a set that no fixed text of ours holds in upper case, so a
 * leak is any stretch of the secret from one of its letters to another found in the output.
 */
const marks = 'GQVWXYZ';
const piece = fc.oneof(
  fc.string({unit: fc.constantFrom(...marks), minLength: 1, maxLength: 4}),
  fc.constantFrom(
    '/',
    '+',
    '=',
    '@',
    ':',
    ' ',
    '?',
    '#',
    '%',
    ',',
    '~',
    '!',
    '$',
    '&',
    "'",
    '(',
    ')',
    '*',
    ';',
    '\\',
    '[',
    ']',
    '//',
    '://',
  ),
  fc.constantFrom('%2F', '%40', '%3A', '%20', '%25', '%zz', '%', '%4'),
);
const secret = fc
  .array(piece, {minLength: 3, maxLength: 14})
  .map((pieces) => pieces.join(''))
  .filter((s) => (s.match(/[GQVWXYZ]/g) ?? []).length >= 2);

/** Every stretch of the secret that starts and ends on one of its letters (two letters or more). */
function stretches(s: string): string[] {
  const at = [...s].flatMap((c, i) => (marks.includes(c) ? [i] : []));
  const out: string[] = [];
  for (let a = 0; a < at.length; a++) for (let b = a + 1; b < at.length; b++) out.push(s.slice(at[a], at[b] + 1));
  return out;
}

function leaked(text: string, s: string): string | undefined {
  // The temporary folder's random name may hold two of the letters side by side: it is not the secret.
  const shown = dir ? text.replaceAll(dir, '<dir>') : text;
  return stretches(s).find((part) => shown.includes(part));
}

/** The values an operator may write with the secret in them (valid or not). */
const natsShapes = (s: string) => [
  `nats://user:${s}@127.0.0.1:4222`,
  `nats://${s}@127.0.0.1`,
  `${s}@127.0.0.1:4222`,
  `tls://u:${s}@h1:4222,nats://h2:4222`,
  `nats://u:${s}@host:99999999`,
];
const backendShapes = (s: string) => [
  `http://user:${s}@127.0.0.1:9000/predict`,
  `https://${s}@backend.example/predict`,
  `http://u:${s}@host:notaport/`,
  `${s}@127.0.0.1:9000`,
  `http://127.0.0.1:9000/predict?key=${s}`,
  `ftp://u:${s}@host/`,
];

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-redact-'));
});

test('a config error for NATS_URL or BACKEND_URL never shows a password, whatever its shape', (t) => {
  fc.assert(
    fc.property(secret, (s) => {
      const envs = [
        ...natsShapes(s).map((NATS_URL) => ({NATS_URL, ROLE: 'gateway'})),
        ...backendShapes(s).map((BACKEND_URL) => ({BACKEND_URL})),
        // Beside another bad variable, so that the message is made even when the URL is valid.
        ...backendShapes(s).map((BACKEND_URL) => ({BACKEND_URL, MAX_BATCH_SIZE: 'lots'})),
      ];
      for (const env of envs) {
        let shown: string;
        try {
          const config = loadConfig(env);
          // Valid: what the service shows of it (its start log line, GET /models).
          shown = JSON.stringify(describeRegistry(loadRegistry(config)));
          if (config.backend.kind === 'http') shown += redactUrl(config.backend.url);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          shown = error.message;
        }
        const leak = leaked(shown, s);
        if (leak !== undefined) throw new Error(`${JSON.stringify(leak)} of ${JSON.stringify(env)} shown: ${shown}`);
      }
    }),
    {numRuns: 300},
  );
  t.pass();
});

test('a MODELS_FILE error or GET /models never shows a backend_url password; nor does a file that is not JSON', async (t) => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(secret, async (s) => {
      const file = path.join(dir, `models-${++run}.json`);
      const bodies = [
        ...backendShapes(s).map((url) => JSON.stringify({models: {m: {backend_url: url}}})),
        // Beside a bad field of another model.
        ...backendShapes(s).map((url) => JSON.stringify({models: {m: {backend_url: url}, n: {max_batch_size: 0}}})),
        // A model server's base URL (v2, TF Serving), alone and beside a bad field.
        ...backendShapes(s).flatMap((url) => [
          JSON.stringify({models: {m: {backend: {kind: 'v2', url, model: 'm'}}}}),
          JSON.stringify({models: {m: {backend: {kind: 'tfserving', url, model: 'm', version: 'x'}}}}),
        ]),
        // Cut short, and broken just after the URL: JSON.parse's own message quotes the text.
        `{"models": {"m": {"backend_url": ${JSON.stringify(backendShapes(s)[0])}`,
        `{"models": {"m": {"backend_url": ${JSON.stringify(backendShapes(s)[0])} x}}}`,
      ];
      for (const body of bodies) {
        await writeFile(file, body);
        let shown: string;
        try {
          shown = JSON.stringify(describeRegistry(loadRegistry(loadConfig({MODELS_FILE: file}))));
        } catch (error) {
          if (!(error instanceof RegistryError)) throw error;
          shown = error.message;
        }
        const leak = leaked(shown, s);
        if (leak !== undefined) throw new Error(`${JSON.stringify(leak)} shown for ${body}: ${shown}`);
      }
    }),
    {numRuns: 150},
  );
  t.pass();
});

test('a password that is not percent-encoding is refused at start, naming the variable or field, without echoing it', async (t) => {
  const error = t.throws(() => loadConfig({BACKEND_URL: 'http://user:QX%zzQ@127.0.0.1:9000/'}), {
    instanceOf: ConfigError,
  });
  t.regex(error!.message, /BACKEND_URL: a URL whose user:password@ part is valid percent-encoding/);
  t.false(error!.message.includes('QX'));
  const file = path.join(dir, 'bad-encoding.json');
  await writeFile(file, JSON.stringify({models: {m: {backend_url: 'http://u:QX%zzQ@127.0.0.1:9000/'}}}));
  const registryError = t.throws(() => loadRegistry(loadConfig({MODELS_FILE: file})), {instanceOf: RegistryError});
  t.regex(registryError!.message, /models\.m\.backend_url: .*percent-encoding/);
  t.false(registryError!.message.includes('QX'));
});

test('the running service shows no password in its log lines, GET /models, or a refused SIGHUP reload', async (t) => {
  const s = 'QZ/+=@: %2FX?#W';
  const encoded = encodeURIComponent(s);
  const file = path.join(dir, 'service-models.json');
  await writeFile(
    file,
    JSON.stringify({
      models: {
        m: {backend_url: `http://u:${encoded}@127.0.0.1:9/predict?token=${encoded}`},
        n: {},
        v: {backend: {kind: 'v2', url: `http://u:${encoded}@127.0.0.1:9`, model: 'm'}},
        tf: {backend: {kind: 'tfserving', url: `http://u:${encoded}@127.0.0.1:9`, model: 'm'}},
      },
    }),
  );
  const lines: string[] = [];
  const log = createLogger('info', {write: (line: string) => lines.push(line)});
  const running = await startService(
    {BACKEND_URL: `http://user:${encoded}@127.0.0.1:9/predict`, MODELS_FILE: file, LOG_LEVEL: 'info'},
    log,
  );
  t.teardown(() => running.close());
  const models = await (await fetch(`${running.url}/models`)).text();
  t.regex(models, /http:\/\/\[redacted\]@127\.0\.0\.1:9\/predict\?\[redacted\]/);
  t.regex(models, /"kind":"v2","url":"http:\/\/\[redacted\]@127\.0\.0\.1:9"/);
  // Clients of the model servers nobody listens for: their error bodies, then /metrics.
  const answers = await (
    await fetch(`${running.url}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({
        agents: {a: {vector: [1], model: 'v', agent_type: 't'}, b: {vector: [1], model: 'tf', agent_type: 't'}},
      }),
    })
  ).text();
  t.regex(answers, /backend_error/);
  const metrics = await (await fetch(`${running.url}/metrics`)).text();
  // A reload of a file that is not JSON, with the password beside the fault.
  await writeFile(file, `{"models": {"m": {"backend_url": "http://u:${s}@127.0.0.1:9/" oops`);
  t.false(await running.service.reloadRegistry());
  const text = [...lines, models, answers, metrics].join('\n');
  t.true(
    lines.some((l) => l.includes('"listening"')) && lines.some((l) => l.includes('reload refused')),
    'the lines checked were written',
  );
  for (const form of [s, encoded]) t.is(leaked(text, form), undefined, text);
});

/**
 * A model server that echoes what it was sent (the Authorization header, and the credentials it
 * decodes from it) into its `{"error"}` bodies, for every status a client meets: a refusal, a
 * model it does not know, one busy past the retries, a 200 that is not JSON; and one that never answers.
 */
async function echoingServer(): Promise<LocalServer> {
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString();
    const words = `bad credentials ${auth} (${decoded}; ${encodeURIComponent(decoded)})`;
    const path = req.url ?? '';
    if (path.includes('hang')) return;
    const status = path.includes('gone') ? 404 : path.includes('busy') ? 503 : path.includes('garbage') ? 200 : 400;
    res.writeHead(status, {'content-type': 'application/json'});
    res.end(status === 200 ? `not json: ${words}` : JSON.stringify({error: words}));
  });
  return listenLocal(server);
}

test('a model server echoing the credentials, refusing, timing out or not there: no error, reason or log line shows them', async (t) => {
  const echo = await echoingServer();
  t.teardown(() => echo.close());
  const password = 'QZ/@: %X:W@';
  const user = 'VY@ GW';
  const secrets = [password, encodeURIComponent(password), Buffer.from(`${user}:${password}`).toString('base64')];
  const withCredentials = (base: string) =>
    base.replace('http://', `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);
  const lines: string[] = [];
  const log = createLogger('trace', {write: (line: string) => lines.push(line)});
  const common = {timeoutMs: 1000, retries: 1, maxReplyBytes: 1 << 16};
  const clients = [
    ...['refuse', 'gone', 'busy', 'garbage', 'hang'].flatMap((model) => [
      v2Client({
        kind: 'v2',
        url: withCredentials(echo.url),
        model,
        version: undefined,
        input: 'x',
        output: 'y',
        datatype: 'FP64',
        binary: false,
        ...common,
      }),
      tfServingClient({kind: 'tfserving', url: withCredentials(echo.url), model, version: undefined, ...common}),
    ]),
    // A bearer-like token as the user, without a password.
    tfServingClient({
      kind: 'tfserving',
      url: echo.url.replace('http://', 'http://QZTOKENW@'),
      model: 'busy',
      version: undefined,
      ...common,
    }),
    // Nobody listens on port 9: connection refused, undici's own error as the cause.
    v2Client({
      kind: 'v2',
      url: withCredentials('http://127.0.0.1:9'),
      model: 'm',
      version: undefined,
      input: undefined,
      output: undefined,
      datatype: undefined,
      binary: false,
      ...common,
    }),
  ];
  let failures = 0;
  for (const [i, client] of clients.entries()) {
    const rows = [Float64Array.of(1, 2), Float64Array.of(3, 4)];
    try {
      const reply = await client.predict({
        model: 'm',
        agentType: 't',
        rows,
        deadline: Date.now() + 5000,
        batchId: `b-${i}`,
      });
      for (const reason of reply.rejected?.values() ?? []) lines.push(reason);
      t.is(reply.rejected?.size, 2, 'refused rows are told so');
    } catch (error) {
      failures++;
      t.true(error instanceof BackendError, String((error as Error)?.stack));
      // As the actor logs a failed call, at every level.
      for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)
        log[level]({batchId: `b-${i}`, size: 2, err: error}, 'backend call failed');
      lines.push((error as Error).message);
    } finally {
      await client.close();
    }
  }
  t.is(failures, 10, 'every client but the two refused ones failed its batch');
  const text = lines.join('\n');
  t.regex(text, /HTTP 503/, 'the lines checked were written');
  for (const s of [...secrets, 'QZ', 'TOKEN', user]) {
    const shown = lines.filter((l) => l.includes(s)).map((l) => l.slice(0, 300));
    t.deepEqual(shown, [], `${s} shown`);
  }
});

/**
 * A v2 model server that echoes the Basic credentials it receives into the fields the gateway
 * quotes, one field per model: the metadata's input name, its input datatype, a two-inputs
 * listing (the Basic token), its output name (the reply then lacks that output), the reply's
 * `id`, the output's datatype. `ok` answers as a model should (the normal client beside them).
 */
async function echoingV2Server(): Promise<LocalServer> {
  const server = http.createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Basic /, '');
    const password = Buffer.from(token, 'base64')
      .toString()
      .replace(/^[^:]*:/, '');
    const model = /^\/v2\/models\/([^/]+)/.exec(req.url ?? '')?.[1] ?? '';
    const tensor = (name: string, datatype: string, shape: number[]) => ({name, datatype, shape});
    const meta = {
      inname: {inputs: [tensor(password, 'INT64', [-1, 2])], outputs: [tensor('y', 'FP64', [-1, 1])]},
      intype: {inputs: [tensor('x', password, [-1, 2])], outputs: [tensor('y', 'FP64', [-1, 1])]},
      twoin: {inputs: [tensor(token, 'FP64', [-1, 2]), tensor('z', 'FP64', [-1, 2])], outputs: []},
      outname: {
        inputs: [tensor('x', 'FP64', [-1, 2])],
        outputs: [tensor(`${'o'.repeat(60)}${password}`, 'FP64', [-1, 1])],
      },
    }[model] ?? {inputs: [tensor('x', 'FP64', [-1, 2])], outputs: [tensor('y', 'FP64', [-1, 1])]};
    res.writeHead(200, {'content-type': 'application/json'});
    if (req.method === 'GET') return res.end(JSON.stringify({name: model, ...meta}));
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const request = JSON.parse(body) as {id: string; inputs: [{data: number[]}]};
      const rows = request.inputs[0].data.length / 2;
      const data = Array.from(
        {length: rows},
        (_, i) => request.inputs[0].data[2 * i] + request.inputs[0].data[2 * i + 1],
      );
      const id = model === 'replyid' ? `${password}` : request.id;
      const datatype = model === 'outtype' ? password : 'FP64';
      res.end(
        JSON.stringify({id, outputs: [{name: model === 'outname' ? 'other' : 'y', datatype, shape: [rows, 1], data}]}),
      );
    });
  });
  return listenLocal(server);
}

test('a server echoing the credentials into the names, datatypes and ids the gateway quotes: no error, cause, stack or log line shows them', async (t) => {
  const echo = await echoingV2Server();
  t.teardown(() => echo.close());
  const url = echo.url.replace('http://', 'http://us%20er:S3cr%40t%3A%2F%20%25x@');
  const password = 'S3cr@t:/ %x';
  const forms = [
    password,
    'S3cr%40t%3A%2F%20%25x',
    encodeURIComponent(password),
    'S3cr@',
    'S3cr%40',
    Buffer.from(`us er:${password}`).toString('base64'),
    Buffer.from(password).toString('base64'),
  ];
  const lines: string[] = [];
  const log = createLogger('trace', {write: (line: string) => lines.push(line)});
  const v2 = (model: string) => v2Client(v2Options(url, model, {timeoutMs: 1000, retries: 0, maxReplyBytes: 1 << 16}));
  const rows = [Float64Array.of(1, 2), Float64Array.of(3, 4)];
  const expected: Record<string, RegExp> = {
    inname: /found input "\[redacted\]" INT64 \[-1, 2\]/,
    intype: /found input "x" \[redacted\] \[-1, 2\]/,
    twoin: /found 2 inputs: "\[redacted\]" FP64/,
    outname: /reply has no output "o{60}\[redacted\]…"/,
    replyid: /answers request "\[redacted\]"/,
    outtype: /has datatype "\[redacted\]"/,
  };
  for (const model of ['ok', ...Object.keys(expected)]) {
    const client = v2(model);
    try {
      const reply = await client.predict({
        model,
        agentType: 't',
        rows,
        deadline: Date.now() + 5000,
        batchId: `b-${model}`,
      });
      t.is(model, 'ok', 'only the normal model answers');
      t.deepEqual(Array.from(reply.values), [3, 7], 'the normal client beside them gets its exact values');
    } catch (error) {
      t.true(error instanceof BackendError, model);
      t.regex((error as Error).message, expected[model], model);
      log.warn({batchId: `b-${model}`, size: 2, err: error}, 'backend call failed');
      lines.push((error as Error).message, String((error as Error).stack));
    } finally {
      await client.close();
    }
  }
  t.is(lines.filter((l) => l.includes('backend call failed')).length, 6, 'the lines checked were written');
  for (const form of forms)
    t.deepEqual(
      lines.filter((l) => l.includes(form)),
      [],
      `${form} shown`,
    );
});

test('a query-string token echoed by the server in a 500 is not logged; short user names and query values are not secrets', async (t) => {
  const server = http.createServer((req, res) => {
    res.writeHead(500, {'content-type': 'application/json'});
    res.end(JSON.stringify({error: `cannot serve ${req.url}`}));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const client = new HttpBackend({
    kind: 'http',
    url: `http://127.0.0.1:${port}/predict?api_key=TOPSECRETQ&v=1`,
    timeoutMs: 1000,
    retries: 0,
    maxReplyBytes: 1 << 16,
  });
  t.teardown(() => client.close());
  const error = await client
    .predict({model: 'm', agentType: 't', rows: [Float64Array.of(1)], deadline: Date.now() + 5000})
    .catch((e: unknown) => e);
  const lines: string[] = [];
  createLogger('trace', {write: (line: string) => lines.push(line)}).warn({err: error}, 'backend call failed');
  t.regex(lines[0], /cannot serve \/predict\?\[redacted\]/);
  t.false(lines[0].includes('TOPSECRETQ'));
  // "admin" with a password is a word, not a secret; alone (a token) it is one. The password's base64 alone is one too.
  const admin = credentialForms(new URL('http://admin:pw-Secret9@h/'));
  t.is(scrubSecrets('admin denied [redacted] for admin', admin), 'admin denied [redacted] for admin');
  t.is(scrubSecrets(`pw ${Buffer.from('pw-Secret9').toString('base64')}`, admin), 'pw [redacted]');
  t.is(scrubSecrets('token admin', credentialForms(new URL('http://admin@h/'))), 'token [redacted]');
  t.is(
    scrubSecrets('v=1 api_key=abc', credentialForms(new URL('http://h/?v=1&api_key=abc'))),
    'v=1 api_key=[redacted]',
  );
});
