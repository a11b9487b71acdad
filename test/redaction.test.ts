// Credentials never shown, whatever their shape: config errors for NATS_URL and BACKEND_URL,
// MODELS_FILE errors (the schema's and a file that is not JSON), GET /models and the log lines,
// as a property over generated passwords full of the characters that break naive redaction
// (`/`, `+`, `=`, `@`, `:`, spaces, `?`, `#`, percent-encoding, valid or not).

import test from 'ava';
import fc from 'fast-check';
import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {ConfigError, loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {redactUrl} from '../src/redact.ts';
import {describeRegistry, loadRegistry, RegistryError} from '../src/registry.ts';
import {startService} from './helpers/service.ts';

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
  return stretches(s).find((part) => text.includes(part));
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
    JSON.stringify({models: {m: {backend_url: `http://u:${encoded}@127.0.0.1:9/predict?token=${encoded}`}, n: {}}}),
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
  // A reload of a file that is not JSON, with the password beside the fault.
  await writeFile(file, `{"models": {"m": {"backend_url": "http://u:${s}@127.0.0.1:9/" oops`);
  t.false(await running.service.reloadRegistry());
  const text = [...lines, models].join('\n');
  t.true(
    lines.some((l) => l.includes('"listening"')) && lines.some((l) => l.includes('reload refused')),
    'the lines checked were written',
  );
  for (const form of [s, encoded]) t.is(leaked(text, form), undefined, text);
});
