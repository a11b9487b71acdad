// The model registry (MODELS_FILE): validated at start and on reload, per-model backends and batch
// settings, 422 for what it does not serve, GET /models, SIGHUP reload without dropping anything.

import test from 'ava';
import {execFile} from 'node:child_process';
import {writeFile} from 'node:fs/promises';
import {promisify} from 'node:util';
import {loadConfig} from '../src/config.ts';
import {loadRegistry, RegistryError} from '../src/registry.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {modelsFile} from './helpers/models-file.ts';
import {held, post, startService, testEnv} from './helpers/service.ts';

test('a bad registry names the file and the field; unknown fields and bad names are refused', async (t) => {
  const cases: [unknown, RegExp][] = [
    ['{"models": ', /not valid JSON/],
    [{models: {}}, /models: must list at least one model/],
    [{models: {m: {max_batch_size: 0}}}, /models\.m\.max_batch_size/],
    [{models: {m: {vector_lenght: 3}}}, /models\.m: .*vector_lenght/i],
    [{models: {'bad name': {}}}, /models\.bad name/],
    [{models: {m: {backend_url: 'ftp://u:secret@x/'}}}, /models\.m\.backend_url/],
    [{models: {m: {}}, extra: 1}, /extra/],
  ];
  for (const [content, pattern] of cases) {
    const file = await modelsFile(content);
    const error = t.throws(() => loadRegistry(loadConfig({MODELS_FILE: file})), {instanceOf: RegistryError});
    t.true(error!.message.includes(file), 'names the file');
    t.regex(error!.message, pattern);
    t.false(error!.message.includes('secret'));
  }
  t.throws(() => loadRegistry(loadConfig({MODELS_FILE: '/nonexistent/models.json'})), {message: /cannot be read/});
});

test('the example registry is valid', (t) => {
  const registry = loadRegistry(
    loadConfig({MODELS_FILE: new URL('../examples/models.json', import.meta.url).pathname}),
  );
  t.deepEqual(
    [...(registry.models?.keys() ?? [])],
    ['resnet-50', 'gpt-mini', 'bert-base', 'policy-mlp', 'value-net', 'value-net-binary', 'ranker'],
  );
});

test('a process started with a bad MODELS_FILE stops with exit 1 and the reason', async (t) => {
  const file = await modelsFile({models: {m: {max_batch_size: -1}}});
  const error = await promisify(execFile)(process.execPath, ['src/main.ts'], {
    env: {...process.env, ...testEnv, MODELS_FILE: file},
  }).catch((e) => e);
  t.is(error.code, 1);
  t.regex(error.stderr, /MODELS_FILE .* is invalid:\n {2}models\.m\.max_batch_size/);
});

test('three models on two HTTP backends and the simulated one: each model reaches only its backend, with its own batch size', async (t) => {
  const one = await startFakeBackend({latencyMs: 100});
  const two = await startFakeBackend({latencyMs: 100});
  t.teardown(() => Promise.all([one.close(), two.close()]));
  const file = await modelsFile({
    models: {
      alpha: {backend_url: one.url, max_batch_size: 4, max_wait_ms: 30, vector_length: 2},
      beta: {backend_url: two.url, max_batch_size: 8, max_wait_ms: 30, agent_types: ['scout']},
      gamma: {max_batch_size: 16, max_wait_ms: 30},
    },
  });
  const running = await startService({MODELS_FILE: file, MAX_BATCH_SIZE: '32'});
  t.teardown(() => running.close());

  const listed: any = await (await fetch(`${running.url}/models`)).json();
  t.deepEqual(Object.keys(listed.models), ['alpha', 'beta', 'gamma']);
  t.like(listed.models.alpha, {
    backend: one.url,
    max_batch_size: 4,
    max_wait_ms: 30,
    vector_length: 2,
    agent_types: null,
  });
  t.like(listed.models.beta, {backend: two.url, max_batch_size: 8, agent_types: ['scout']});
  t.like(listed.models.gamma, {backend: 'simulated', max_batch_size: 16});
  t.false(listed.any_model);

  const replies = await Promise.all(
    Array.from({length: 40}, (_, c) =>
      post(`${running.url}/predict`, {
        agents: {
          a: {vector: [c, 1], model: 'alpha', agent_type: 'x'},
          b: {vector: [c], model: 'beta', agent_type: 'scout'},
          g: {vector: [c, 2, 3], model: 'gamma', agent_type: 'y'},
        },
      }),
    ),
  );
  const gammaSizes = new Set<number>();
  replies.forEach((reply, c) => {
    t.is(reply.status, 200, JSON.stringify(reply.body));
    t.is(reply.body.results.a.prediction, predictRow(bias('alpha', 'x'), [c, 1]));
    t.is(reply.body.results.b.prediction, predictRow(bias('beta', 'scout'), [c]));
    t.is(reply.body.results.g.prediction, predictRow(bias('gamma', 'y'), [c, 2, 3]));
    gammaSizes.add(reply.body.results.g.batch.size);
  });
  t.deepEqual(new Set(one.received.map((r) => r.model)), new Set(['alpha']), 'backend one saw only alpha');
  t.deepEqual(new Set(two.received.map((r) => r.model)), new Set(['beta']), 'backend two saw only beta');
  t.is(one.received.flatMap((r) => r.vectors).length, 40);
  t.is(two.received.flatMap((r) => r.vectors).length, 40);
  t.true(one.received.every((r) => r.vectors.length <= 4) && one.received.some((r) => r.vectors.length === 4));
  t.true(two.received.every((r) => r.vectors.length <= 8) && two.received.some((r) => r.vectors.length === 8));
  t.true(Math.max(...gammaSizes) <= 16 && Math.max(...gammaSizes) > 8, `gamma batches: ${[...gammaSizes]}`);
});

test('what the registry does not serve is 422 at the agent path: an unlisted model, agent type or vector length', async (t) => {
  const file = await modelsFile({models: {alpha: {vector_length: 2, agent_types: ['scout']}}});
  const running = await startService({MODELS_FILE: file});
  t.teardown(() => running.close());
  const cases: [object, string, RegExp][] = [
    [{vector: [1, 2], model: 'omega', agent_type: 'scout'}, 'agents.a.model', /not served/],
    [{vector: [1, 2], model: 'alpha', agent_type: 'pilot'}, 'agents.a.agent_type', /serves agent types scout/],
    [{vector: [1, 2, 3], model: 'alpha', agent_type: 'scout'}, 'agents.a.vector', /exactly 2 numbers \(got 3\)/],
  ];
  for (const [agent, where, message] of cases) {
    const reply = await post(`${running.url}/predict`, {
      agents: {a: agent, ok: {vector: [1, 2], model: 'alpha', agent_type: 'scout'}},
    });
    t.is(reply.status, 422);
    t.is(reply.body.error.details[0].path, where);
    t.regex(reply.body.error.details[0].message, message);
  }
  t.is(running.service.coordinator.stats.keys, 0, 'nothing was dispatched');
});

test('SIGHUP reload: a valid file applies to new batches without dropping what is in flight; a bad file is refused and the old stays', async (t) => {
  const file = await modelsFile({models: {alpha: {max_batch_size: 2, max_wait_ms: 5}}});
  const running = await startService({MODELS_FILE: file, BACKEND_LATENCY_MIN_MS: '400', BACKEND_LATENCY_MAX_MS: '400'});
  t.teardown(() => running.close());
  const agents = (n: number, model = 'alpha') =>
    Object.fromEntries(Array.from({length: n}, (_, i) => [`a${i}`, {vector: [i], model, agent_type: 't'}]));
  const inFlight = post(`${running.url}/predict`, {agents: agents(4)});
  await new Promise((r) => setTimeout(r, 100));

  await writeFile(file, JSON.stringify({models: {alpha: {max_batch_size: 8, max_wait_ms: 5}, beta: {}}}));
  t.true(await running.service.reloadRegistry());
  const before = await inFlight;
  t.is(before.status, 200, 'the request in flight during the reload is answered');
  for (let i = 0; i < 4; i++) t.is(before.body.results[`a${i}`].prediction, predictRow(bias('alpha', 't'), [i]));
  t.true(
    Object.values<any>(before.body.results).every((r) => r.batch.size === 2),
    'its batches were cut under the old settings',
  );

  const after = await post(`${running.url}/predict`, {agents: agents(6)});
  t.true(
    Object.values<any>(after.body.results).every((r) => r.batch.size === 6),
    'new batches use the new max_batch_size',
  );
  t.is(
    (await post(`${running.url}/predict`, {agents: agents(1, 'beta')})).status,
    200,
    'a model added by the reload is served',
  );

  await writeFile(file, '{"models": {"alpha": {"max_batch_size": "many"}}}');
  t.false(await running.service.reloadRegistry());
  t.is((await post(`${running.url}/predict`, {agents: agents(1, 'beta')})).status, 200, 'the old registry stays');
  const models: any = await (await fetch(`${running.url}/models`)).json();
  t.deepEqual(Object.keys(models.models), ['alpha', 'beta']);
});

test.serial(
  'SIGHUP removing or moving a model while its rows wait: they finish on the backend they were admitted under, never the default',
  async (t) => {
    const own = await startFakeBackend();
    const fallback = await startFakeBackend();
    const moved = await startFakeBackend();
    t.teardown(() => Promise.all([own.close(), fallback.close(), moved.close()]));
    const file = await modelsFile({models: {m: {backend_url: own.url, max_wait_ms: 400}, other: {max_wait_ms: 5}}});
    const running = await startService({MODELS_FILE: file, BACKEND_URL: fallback.url});
    t.teardown(() => running.close());
    const request = (model: string, n: number, from = 0) =>
      post(`${running.url}/predict`, {
        agents: Object.fromEntries(
          Array.from({length: n}, (_, i) => [`a${i}`, {vector: [from + i, 1], model, agent_type: 't'}]),
        ),
      });
    const exact = (reply: Awaited<ReturnType<typeof request>>, model: string, n: number, from = 0) => {
      t.is(reply.status, 200, JSON.stringify(reply.body));
      for (let i = 0; i < n; i++)
        t.is(reply.body.results[`a${i}`].prediction, predictRow(bias(model, 't'), [from + i, 1]));
    };
    const rows = (backend: typeof own, model: string) =>
      backend.calls(model).flatMap((c) => c.vectors.map((v) => v[0]));

    // Removed: three rows wait in m's 400 ms window when the reload takes m out.
    const waiting = request('m', 3);
    const beside = request('other', 2, 10);
    await held(running, 5);
    await writeFile(file, JSON.stringify({models: {other: {max_wait_ms: 5}}}));
    t.true(await running.service.reloadRegistry());
    exact(await waiting, 'm', 3);
    exact(await beside, 'other', 2, 10);
    t.deepEqual(
      rows(own, 'm').sort((a, b) => a - b),
      [0, 1, 2],
      "the rows went to m's own backend",
    );
    t.deepEqual(rows(fallback, 'm'), [], 'none to the default backend');
    t.deepEqual(
      rows(fallback, 'other').sort((a, b) => a - b),
      [10, 11],
    );
    t.is((await request('m', 1)).status, 422, 'a removed model takes no new requests');

    // Moved: m comes back on its own backend, then moves to another while three rows wait.
    await writeFile(
      file,
      JSON.stringify({models: {m: {backend_url: own.url, max_wait_ms: 400}, other: {max_wait_ms: 5}}}),
    );
    t.true(await running.service.reloadRegistry());
    const before = request('m', 3, 20);
    await held(running, 3);
    await writeFile(
      file,
      JSON.stringify({models: {m: {backend_url: moved.url, max_wait_ms: 5}, other: {max_wait_ms: 5}}}),
    );
    t.true(await running.service.reloadRegistry());
    const after = await request('m', 2, 30);
    exact(after, 'm', 2, 30);
    exact(await before, 'm', 3, 20);
    t.deepEqual(
      rows(own, 'm').sort((a, b) => a - b),
      [0, 1, 2, 20, 21, 22],
      'rows admitted before the move finish where they were admitted',
    );
    t.deepEqual(
      rows(moved, 'm').sort((a, b) => a - b),
      [30, 31],
      'rows admitted after it go to the new backend',
    );
    t.deepEqual(rows(fallback, 'm'), []);

    // A client that leaves while its row waits in a superseded mailbox: the row is withdrawn there.
    await writeFile(
      file,
      JSON.stringify({models: {m: {backend_url: own.url, max_wait_ms: 400}, other: {max_wait_ms: 5}}}),
    );
    t.true(await running.service.reloadRegistry());
    const leaving = new AbortController();
    const gone = fetch(`${running.url}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({agents: {a0: {vector: [40, 1], model: 'm', agent_type: 't'}}}),
      signal: leaving.signal,
    }).catch(() => 'aborted');
    const stays = request('m', 1, 41);
    await held(running, 2);
    await writeFile(
      file,
      JSON.stringify({models: {m: {backend_url: moved.url, max_wait_ms: 5}, other: {max_wait_ms: 5}}}),
    );
    t.true(await running.service.reloadRegistry());
    leaving.abort();
    t.is(await gone, 'aborted');
    exact(await stays, 'm', 1, 41);
    t.deepEqual(
      rows(own, 'm').filter((x) => x >= 40),
      [41],
      "the leaver's row never reached a backend",
    );
    t.deepEqual(
      rows(moved, 'm').filter((x) => x >= 40),
      [],
    );
    for (let i = 0; i < 100 && running.service.coordinator.stats.liveParts > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    t.is(running.service.coordinator.stats.liveParts, 0, 'the withdrawal was confirmed');
  },
);

test.serial(
  'SIGHUP removing a model while its backend is busy (MAX_CONCURRENT_BATCHES) and rows queue behind: they all finish there',
  async (t) => {
    const own = await startFakeBackend({slowMs: 300});
    const fallback = await startFakeBackend();
    t.teardown(() => Promise.all([own.close(), fallback.close()]));
    const file = await modelsFile({
      models: {slow: {backend_url: own.url, max_batch_size: 2, max_wait_ms: 0, max_concurrent_batches: 1}, other: {}},
    });
    const running = await startService({MODELS_FILE: file, BACKEND_URL: fallback.url});
    t.teardown(() => running.close());
    const agents = Object.fromEntries(
      Array.from({length: 6}, (_, i) => [`a${i}`, {vector: [i], model: 'slow', agent_type: 't'}]),
    );
    const waiting = post(`${running.url}/predict`, {agents});
    await held(running, 6);
    await writeFile(file, JSON.stringify({models: {other: {}}}));
    t.true(await running.service.reloadRegistry());
    const reply = await waiting;
    t.is(reply.status, 200, JSON.stringify(reply.body));
    for (let i = 0; i < 6; i++) t.is(reply.body.results[`a${i}`].prediction, predictRow(bias('slow', 't'), [i]));
    t.is(own.calls('slow').length, 3, 'three batches of two, one at a time, all on its own backend');
    t.is(fallback.calls('slow').length, 0);
  },
);
