// The service in front of the model servers people run (issue #21): a registry with each kind of
// HTTP backend (ours, v2 over JSON, v2 binary FP32, TF Serving) against the stand-in, answers
// checked exact, faulty rows beside normal clients in the same batches, GET /models, SIGHUP. The
// service tests run one after another: four services starting threads at once on a busy two-core
// machine can miss the pool's start timeout.

import test from 'ava';
import {spawn} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import {loadConfig} from '../src/config.ts';
import {loadRegistry, RegistryError} from '../src/registry.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {served, startModelServer} from './helpers/model-server.ts';
import {modelsFile} from './helpers/models-file.ts';
import {post, startService} from './helpers/service.ts';

test('a bad v2 or tfserving entry names the field and what it accepts', async (t) => {
  const cases: [object, RegExp][] = [
    [
      {kind: 'v2', url: 'http://t:8000/?token=secret', model: 'm'},
      /models\.m\.backend\.url: the server's base URL, without a query or a fragment/,
    ],
    [{kind: 'v2', url: 'http://t:8000', model: '../admin'}, /models\.m\.backend\.model: a model name: letters, digits/],
    [{kind: 'v2', url: 'http://t:8000', model: 'm', datatype: 'INT8'}, /models\.m\.backend\.datatype: FP32 or FP64/],
    [{kind: 'v2', url: 'http://t:8000', model: 'm', binary: 'yes'}, /models\.m\.backend\.binary/],
    [{kind: 'v2', url: 'http://t:8000'}, /models\.m\.backend\.model/],
    [{kind: 'v2', url: 'http://t:8000', model: 'm', inputs: ['x']}, /models\.m\.backend: .*inputs/i],
    [
      {kind: 'tfserving', url: 'http://t:8501', model: 'm', version: 'v2'},
      /models\.m\.backend\.version: a version number/,
    ],
    [{kind: 'tfserving', url: 'ftp://t:8501', model: 'm'}, /models\.m\.backend\.url: an http:\/\/ or https:\/\/ URL/],
    [{kind: 'v2', url: 'http://u:secret%zz@t:8000', model: 'm'}, /models\.m\.backend\.url: .*percent-encoding/],
  ];
  for (const [backend, pattern] of cases) {
    const file = await modelsFile({models: {m: {backend}}});
    const error = t.throws(() => loadRegistry(loadConfig({MODELS_FILE: file})), {instanceOf: RegistryError});
    t.regex(error!.message, pattern);
    t.false(error!.message.includes('secret'));
  }
});

test.serial(
  'ours, v2 (JSON), v2 (binary, FP32) and TF Serving side by side: exact answers for 40 clients, each model reaching only its server path',
  async (t) => {
    const server = await startModelServer({latencyMs: 30});
    t.teardown(() => server.close());
    const url = server.url.replace('http://', 'http://user:pw@');
    const file = await modelsFile({
      models: {
        ours: {backend_url: `${server.url}/predict`},
        'value-net': {backend: {kind: 'v2', url, model: 'value_net', version: '1'}},
        'value-net-32': {backend: {kind: 'v2', url: server.url, model: 'vnet32', binary: true}},
        ranker: {backend: {kind: 'tfserving', url: server.url, model: 'ranker'}, max_batch_size: 8},
      },
    });
    const running = await startService({MODELS_FILE: file, MAX_WAIT_MS: '40'});
    t.teardown(() => running.close());

    const listed: any = await (await fetch(`${running.url}/models`)).json();
    t.deepEqual(listed.models['value-net'].backend, {
      kind: 'v2',
      url: server.url.replace('http://', 'http://[redacted]@'),
      model: 'value_net',
      version: '1',
      input: null,
      output: null,
      datatype: null,
      binary: false,
    });
    t.deepEqual(listed.models.ranker.backend, {kind: 'tfserving', url: server.url, model: 'ranker', version: null});
    t.false(JSON.stringify(listed).includes('pw@'));

    const replies = await Promise.all(
      Array.from({length: 40}, (_, c) =>
        post(`${running.url}/predict`, {
          agents: {
            o: {vector: [c, 1], model: 'ours', agent_type: 'scout'},
            v: {vector: [c, 0.1, -2], model: 'value-net', agent_type: 'scout'},
            b: {vector: [c / 7, 0.3], model: 'value-net-32', agent_type: c % 2 ? 'critic' : 'scout'},
            r: {vector: [1, c], model: 'ranker', agent_type: 'scout'},
          },
        }),
      ),
    );
    replies.forEach((reply, c) => {
      t.is(reply.status, 200, JSON.stringify(reply.body));
      const r = reply.body.results;
      t.is(r.o.prediction, predictRow(bias('ours', 'scout'), [c, 1]));
      t.is(r.v.prediction, served('value_net', [c, 0.1, -2]));
      t.is(r.b.prediction, served('vnet32', [c / 7, 0.3], 'FP32'));
      t.is(r.r.prediction, served('ranker', [1, c]));
      t.true(r.r.batch.size <= 8);
    });
    const paths = new Set(server.calls.map((c) => `${c.method} ${c.path}`));
    t.deepEqual(
      [...paths].sort(),
      [
        'GET /v2/models/value_net/versions/1',
        'GET /v2/models/vnet32',
        'POST /predict',
        'POST /v1/models/ranker:predict',
        'POST /v2/models/value_net/versions/1/infer',
        'POST /v2/models/vnet32/infer',
      ].sort(),
    );
    t.true(
      server
        .infers('value_net')
        .every((c) => c.headers.authorization === `Basic ${Buffer.from('user:pw').toString('base64')}`),
    );
    t.true(
      server.infers('vnet32').every((c) => c.headers['inference-header-content-length'] !== undefined),
      'binary requests',
    );
    const v2Batches = server.infers('value_net').map((c) => JSON.parse(c.body.toString()).inputs[0].shape[0]);
    t.is(
      v2Batches.reduce((a, b) => a + b, 0),
      40,
    );
    t.true(v2Batches.length < 40, `agents of different clients shared v2 calls: ${v2Batches}`);
    // One metadata read per thread that served each v2 model, never one per batch.
    t.true(server.metadataReads('value_net').length <= 2);
  },
);

test.serial(
  "attacks beside normal clients in the same batches: an overflowing row (binary FP32, TF Serving's Infinity) and a refused row fail alone",
  async (t) => {
    const server = await startModelServer({latencyMs: 30});
    t.teardown(() => server.close());
    const file = await modelsFile({
      models: {
        'value-net-32': {backend: {kind: 'v2', url: server.url, model: 'vnet32', binary: true}},
        ranker: {backend: {kind: 'tfserving', url: server.url, model: 'ranker'}},
        guarded: {backend: {kind: 'v2', url: server.url, model: 'poison'}},
      },
    });
    const running = await startService({MODELS_FILE: file, MAX_WAIT_MS: '60'});
    t.teardown(() => running.close());
    const attack = (i: number) => {
      const model = ['value-net-32', 'ranker', 'guarded'][i % 3];
      // 1e39 is beyond float32: the FP32 model computes Infinity. [0, 1e308] overflows in float64. 666 is refused by the server.
      const vector = model === 'value-net-32' ? [1e39, 1] : model === 'ranker' ? [0, 1e308] : [666, 1];
      return post(`${running.url}/predict`, {agents: {evil: {vector, model, agent_type: 't'}}});
    };
    const normal = (c: number) =>
      post(`${running.url}/predict`, {
        agents: {
          a: {vector: [c, 2], model: 'value-net-32', agent_type: 't'},
          b: {vector: [c, 3], model: 'ranker', agent_type: 't'},
          c: {vector: [c, 4], model: 'guarded', agent_type: 't'},
        },
      });
    const sent = Array.from({length: 36}, (_, i) => (i % 6 === 0 ? attack(i / 6) : normal(i)));
    const all = await Promise.all(sent);
    const evilBatches = new Set<string>();
    all.forEach((reply, i) => {
      if (i % 6 !== 0) return;
      const evil = reply.body.results.evil;
      t.is(reply.status, 502);
      t.is(evil.error.code, i % 18 === 12 ? 'backend_rejected' : 'backend_bad_response', JSON.stringify(evil));
      if (evil.batch) evilBatches.add(evil.batch.id);
    });
    let shared = 0;
    all.forEach((reply, c) => {
      if (c % 6 === 0) return;
      t.is(reply.status, 200, JSON.stringify(reply.body));
      const r = reply.body.results;
      t.is(r.a.prediction, served('vnet32', [c, 2], 'FP32'));
      t.is(r.b.prediction, served('ranker', [c, 3]));
      t.is(r.c.prediction, served('poison', [c, 4]));
      for (const x of [r.a, r.b, r.c]) if (evilBatches.has(x.batch.id)) shared++;
    });
    t.true(shared > 0, 'the attackers really shared batches with normal clients');
  },
);

test.serial(
  'hostile model servers beside a normal one: 100,000 nested [, an INT64 output, a server refusing every row; each fails alone, clearly, and the threads go on exact',
  async (t) => {
    const server = await startModelServer({latencyMs: 10});
    t.teardown(() => server.close());
    const named = {input: 'input', output: 'output', datatype: 'FP64'};
    const file = await modelsFile({
      models: {
        'value-net': {backend: {kind: 'v2', url: server.url, model: 'value_net'}},
        deep: {backend: {kind: 'v2', url: server.url, model: 'deep'}},
        'deep-tf': {backend: {kind: 'tfserving', url: server.url, model: 'deep'}},
        ints: {backend: {kind: 'v2', url: server.url, model: 'ints64'}},
        refuser: {backend: {kind: 'v2', url: server.url, model: 'refuseall', ...named}},
      },
    });
    const running = await startService({MODELS_FILE: file, MAX_WAIT_MS: '30'});
    t.teardown(() => running.close());
    const codes: Record<string, string> = {
      deep: 'backend_bad_response',
      'deep-tf': 'backend_bad_response',
      ints: 'backend_error',
      refuser: 'backend_rejected',
    };
    const round = (r: number) =>
      Promise.all(
        Array.from({length: 20}, (_, c) => {
          const agents: Record<string, object> = {a: {vector: [c, r], model: 'value-net', agent_type: 't'}};
          const hostile = Object.keys(codes)[c % 4];
          if (c % 2 === 0) agents.evil = {vector: [c, r], model: hostile, agent_type: 't'};
          return post(`${running.url}/predict`, {agents}).then((reply) => ({c, hostile, reply}));
        }),
      );
    for (let r = 0; r < 2; r++) {
      for (const {c, hostile, reply} of await round(r)) {
        const results = reply.body.results;
        t.is(results.a.prediction, served('value_net', [c, r]), JSON.stringify(results.a));
        if (c % 2 !== 0) continue;
        t.is(results.evil.error.code, codes[hostile], JSON.stringify(results.evil));
        t.false(String(results.evil.error.message).includes('\n'));
        t.true(String(results.evil.error.message).length < 300);
      }
    }
    const ints = await post(`${running.url}/predict`, {agents: {x: {vector: [1, 2], model: 'ints', agent_type: 't'}}});
    t.regex(ints.body.results.x.error.message, /output "output" has datatype "INT64"/);
  },
);

test.serial("SIGHUP: each thread asks the v2 server for the model's metadata again", async (t) => {
  const server = await startModelServer({latencyMs: 5});
  t.teardown(() => server.close());
  const file = await modelsFile({models: {'value-net': {backend: {kind: 'v2', url: server.url, model: 'value_net'}}}});
  const running = await startService({MODELS_FILE: file, MAX_WAIT_MS: '5', ACTOR_POOL_SIZE: '1'});
  t.teardown(() => running.close());
  const ask = async (x: number) => {
    const reply = await post(`${running.url}/predict`, {
      agents: {a: {vector: [x], model: 'value-net', agent_type: 't'}},
    });
    t.is(reply.body.results.a.prediction, served('value_net', [x]));
  };
  await ask(1);
  await ask(2);
  t.is(server.metadataReads('value_net').length, 1, 'once, when the thread first needed it');
  t.true(await running.service.reloadRegistry());
  await ask(3);
  t.is(server.metadataReads('value_net').length, 2, 'again after the reload');
});

test.serial(
  "examples/models.json's model servers answer exact against `npm run backend` (its own process)",
  async (t) => {
    const port = await freePort();
    const child = spawn(process.execPath, ['src/simulator/server-main.ts'], {
      env: {
        ...process.env,
        BACKEND_PORT: String(port),
        HOST: '127.0.0.1',
        BACKEND_LATENCY_MIN_MS: '10',
        BACKEND_LATENCY_MAX_MS: '20',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    t.teardown(() => child.kill('SIGKILL'));
    await waitUntilUp(`http://127.0.0.1:${port}/healthz`, {child});
    // The example as shipped, on this test's port; policy-mlp's ONNX file is not this test's business.
    const example = JSON.parse(
      (await readFile(new URL('../examples/models.json', import.meta.url), 'utf8')).replaceAll(
        '127.0.0.1:9000',
        `127.0.0.1:${port}`,
      ),
    );
    delete example.models['policy-mlp'];
    const running = await startService({MODELS_FILE: await modelsFile(example), MAX_WAIT_MS: '20'});
    t.teardown(() => running.close());
    const v = Array.from({length: 16}, (_, i) => (i - 7) / 4);
    // resnet-50 (our protocol) takes the vector length the example gives it.
    const ours = v.slice(0, example.models['resnet-50'].vector_length);
    const reply = await post(`${running.url}/predict`, {
      agents: {
        v: {vector: v, model: 'value-net', agent_type: 'critic'},
        b: {vector: v, model: 'value-net-binary', agent_type: 'critic'},
        r: {vector: v, model: 'ranker', agent_type: 'critic'},
        ours: {vector: ours, model: 'resnet-50', agent_type: 'scout'},
      },
    });
    t.is(reply.status, 200, JSON.stringify(reply.body));
    const r = reply.body.results;
    t.is(r.v.prediction, served('value_net', v));
    t.is(r.b.prediction, served('value_net', v), 'binary and JSON give the same float64');
    t.is(r.r.prediction, served('ranker', v));
    t.is(r.ours.prediction, predictRow(bias('resnet-50', 'scout'), ours));
  },
);
