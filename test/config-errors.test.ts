// A refused setting is named with why it was refused; only the value's secret parts are cut out,
// never the sentence around them.

import test from 'ava';
import {ConfigError, loadConfig} from '../src/config.ts';
import {loadRegistry, RegistryError} from '../src/registry.ts';
import {redactQuoted} from '../src/redact.ts';
import {modelsFile} from './helpers/models-file.ts';

test('a refused environment value: the variable and why, the value shown without its credentials', (t) => {
  const cases: [Record<string, string>, string][] = [
    [
      {BACKEND_URL: 'ftp://user:secret@host/'},
      '  BACKEND_URL: an http:// or https:// URL (got "ftp://[redacted]@host/")',
    ],
    [
      {BACKEND_URL: 'http://us%zz:secret@host/'},
      '  BACKEND_URL: a URL whose user:password@ part is valid percent-encoding (write a literal % as %25) (got "http://[redacted]@host/")',
    ],
    [{ACTOR_POOL_SIZE: '1000'}, '  ACTOR_POOL_SIZE: at most 256 (got "1000")'],
  ];
  for (const [env, line] of cases) {
    const error = t.throws(() => loadConfig(env), {instanceOf: ConfigError});
    t.is(error!.message, `invalid configuration:\n${line}`);
    t.false(error!.message.includes('secret'));
  }
});

test('a refused registry field keeps its sentence; only the quoted value is redacted', async (t) => {
  const file = await modelsFile({
    models: {
      m: {'http://u:secret@h/x': 1},
      n: {backend: {kind: 'v2', url: 'http://h:1/?token=secret', model: 'net'}},
    },
  });
  const error = t.throws(() => loadRegistry(loadConfig({MODELS_FILE: file})), {instanceOf: RegistryError});
  t.true(error!.message.includes('\n  models.m: Unrecognized key: "http://[redacted]@h/x"'), error!.message);
  t.true(
    error!.message.includes(
      "\n  models.n.backend.url: the server's base URL, without a query or a fragment (the protocol's paths are appended to it)",
    ),
    error!.message,
  );
  t.false(error!.message.includes('secret'));
});

test('redactQuoted redacts each quoted value and leaves the words, escaped quotes included', (t) => {
  t.is(
    redactQuoted('Unrecognized keys: "a", "http://u:p@h?q=1", "say \\"x\\"" here?'),
    'Unrecognized keys: "a", "http://[redacted]@h?[redacted]", "say \\"x\\"" here?',
  );
});
