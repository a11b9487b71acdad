// A registry model no request could reach (its vector_length above MAX_VECTOR_LENGTH, the most a
// request may carry) is refused at start and on SIGHUP, naming model, length and limit.

import {execFile} from 'node:child_process';
import {writeFile} from 'node:fs/promises';
import {promisify} from 'node:util';
import test from 'ava';
import {loadConfig} from '../src/config.ts';
import {loadRegistry, RegistryError} from '../src/registry.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {modelsFile} from './helpers/models-file.ts';
import {post, startService, testEnv} from './helpers/service.ts';

test('a model whose vector_length is above MAX_VECTOR_LENGTH is refused, naming model, length and limit; equal to it is served', async (t) => {
  const file = await modelsFile({models: {wide: {vector_length: 5000}, fine: {vector_length: 3}}});
  const error = t.throws(() => loadRegistry(loadConfig({MODELS_FILE: file})), {instanceOf: RegistryError});
  t.is(
    error!.message,
    `MODELS_FILE ${file} is invalid:\n  models.wide.vector_length: 5000 is more than MAX_VECTOR_LENGTH (4096); raise MAX_VECTOR_LENGTH or lower vector_length`,
  );
  const atLimit = await modelsFile({models: {wide: {vector_length: 8}}});
  const registry = loadRegistry(loadConfig({MODELS_FILE: atLimit, MAX_VECTOR_LENGTH: '8'}));
  t.is(registry.models?.get('wide')?.vectorLength, 8);
  t.notThrows(() => loadRegistry(loadConfig({MODELS_FILE: file, MAX_VECTOR_LENGTH: '5000'})));
});

test('the process refuses to start with such a model: exit 1, one line naming it', async (t) => {
  const file = await modelsFile({models: {wide: {vector_length: 20}}});
  const run = await promisify(execFile)(process.execPath, ['src/main.ts'], {
    env: {...process.env, ...testEnv, MODELS_FILE: file, MAX_VECTOR_LENGTH: '16'},
  }).catch((e) => e);
  t.is(run.code, 1);
  t.regex(run.stderr, /models\.wide\.vector_length: 20 is more than MAX_VECTOR_LENGTH \(16\)/);
  t.notRegex(run.stdout, /"msg":"listening"/, 'refused before the port is bound');
});

test('SIGHUP with such a model is refused and the old registry keeps serving exactly', async (t) => {
  const file = await modelsFile({models: {m: {vector_length: 2}}});
  const running = await startService({MODELS_FILE: file, MAX_VECTOR_LENGTH: '16'});
  t.teardown(() => running.close());
  await writeFile(file, JSON.stringify({models: {m: {vector_length: 2}, wide: {vector_length: 17}}}));
  t.false(await running.service.reloadRegistry());
  t.deepEqual([...(running.service.registry.models?.keys() ?? [])], ['m']);
  const reply = await post(`${running.url}/predict`, {agents: {a: {vector: [1, 2], model: 'm', agent_type: 't'}}});
  t.is(reply.status, 200);
  t.is(reply.body.results.a.prediction, predictRow(bias('m', 't'), [1, 2]));
  const refused = await post(`${running.url}/predict`, {
    agents: {a: {vector: Array(17).fill(1), model: 'wide', agent_type: 't'}},
  });
  t.is(refused.status, 422);
});
