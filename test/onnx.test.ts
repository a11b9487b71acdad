// ONNX models in the actor threads (DESIGN §10 `onnx`): every answer checked against the same MLP in
// plain TypeScript (relative error ≤ 1e-5), load-time refusals naming model, file, expected and
// found, SIGHUP refused and swapped under load, and the failures a model can have (a runtime error,
// a non-finite output, a thread dying mid-batch), each beside normal clients whose answers are
// checked exactly.

import test from 'ava';
import {execFile} from 'node:child_process';
import {rename} from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import {runModelCheck} from '../src/onnx-models.ts';
import {RegistryError} from '../src/registry.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {closeTo, mlp, mlpPredict, oddModels, row, tempDir, writeMlp, writeRegistry} from './helpers/onnx-models.ts';
import type {Mlp} from './helpers/onnx-models.ts';
import {loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {Service} from '../src/service/service.ts';
import {held, post, startService, testEnv} from './helpers/service.ts';

const dyingThread = new URL('./fixtures/dying-thread.ts', import.meta.url);

interface Sent {
  readonly vector: number[];
  readonly model: string;
}

/** `clients` requests at once, `agents` agents each, over `models` (name -> reference MLP, or null for the simulated formula). */
async function clients(url: string, models: Record<string, Mlp | null>, n: number, agents: number, d = 8) {
  const names = Object.keys(models);
  const sent = Array.from({length: n}, (_, c) => {
    const out: Record<string, Sent> = {};
    for (let i = 0; i < agents; i++) {
      const model = names[(c + i) % names.length];
      out[`c${c}-${i}`] = {vector: models[model] ? row(models[model].sizes[0]) : row(d), model};
    }
    return out;
  });
  const replies = await Promise.all(
    sent.map((agentsOf) =>
      post(`${url}/predict`, {
        agents: Object.fromEntries(Object.entries(agentsOf).map(([id, a]) => [id, {...a, agent_type: 'scout'}])),
      }),
    ),
  );
  return {sent, replies};
}

/** Every answer of `clients()` exact: the MLP's value within 1e-5, or the simulated formula. */
function exact(
  models: Record<string, Mlp | null>,
  sent: Record<string, Sent>[],
  replies: {status: number; body: any}[],
): string[] {
  const wrong: string[] = [];
  sent.forEach((agentsOf, c) => {
    if (replies[c].status !== 200) wrong.push(`client ${c}: ${replies[c].status} ${JSON.stringify(replies[c].body)}`);
    for (const [id, a] of Object.entries(agentsOf)) {
      const got = replies[c].body?.results?.[id]?.prediction;
      const m = models[a.model];
      const ok = m ? closeTo(got, mlpPredict(m, a.vector)) : got === predictRow(bias(a.model, 'scout'), a.vector);
      if (!ok) wrong.push(`${id} (${a.model}): ${JSON.stringify(replies[c].body?.results?.[id])}`);
    }
  });
  return wrong;
}

test.serial(
  'onnx models (float32 and float64) answer every agent of many clients with the MLP value, beside a simulated model; GET /models shows each signature and its fitted cost',
  async (t) => {
    const dir = await tempDir(t);
    const m32 = writeMlp(path.join(dir, 'f32.onnx'), mlp([8, 16, 1], 'float32', 1));
    const m64 = writeMlp(path.join(dir, 'f64.onnx'), mlp([8, 16, 1], 'float64', 2));
    const file = await writeRegistry(dir, {
      f32: {backend: {kind: 'onnx', path: 'f32.onnx'}},
      f64: {backend: {kind: 'onnx', path: path.join(dir, 'f64.onnx'), intra_op_threads: 1}, latency_slo_ms: 50},
      sim: {backend: {kind: 'simulated'}, vector_length: 8, max_wait_ms: 10},
    });
    const running = await startService({MODELS_FILE: file, BACKEND_LATENCY_MIN_MS: '5', BACKEND_LATENCY_MAX_MS: '10'});
    t.teardown(() => running.close());
    const models = {f32: m32, f64: m64, sim: null};
    const {sent, replies} = await clients(running.url, models, 40, 6);
    t.deepEqual(exact(models, sent, replies), []);
    const batches = new Map<string, number>();
    for (const reply of replies)
      for (const r of Object.values<any>(reply.body.results)) batches.set(r.batch.id, r.batch.size);
    t.true(
      [...batches.values()].some((size) => size > 1),
      'rows of different clients share runs',
    );

    const listed: any = await (await fetch(`${running.url}/models`)).json();
    t.like(listed.models.f32, {
      vector_length: 8,
      max_wait_ms: 0,
      max_concurrent_batches: 1,
      latency_slo_ms: null,
      backend: {
        kind: 'onnx',
        path: 'f32.onnx',
        intra_op_threads: 1,
        input: {name: 'x', type: 'float32', shape: ['batch', 8]},
        output: {name: 'y', type: 'float32', shape: ['batch', 1]},
      },
    });
    t.like(listed.models.f64, {latency_slo_ms: 50, backend: {input: {type: 'float64'}, output: {type: 'float64'}}});
    t.is(listed.models.f32.cost[0].agent_type, 'scout');
    t.true(listed.models.f32.cost[0].calls >= 1 && listed.models.f32.cost[0].fixed_ms >= 0);
    const text = await (await fetch(`${running.url}/metrics`)).text();
    t.regex(text, /agent_batcher_backend_cost_per_row_seconds\{agent_type="scout",model="f32"\} [0-9.e-]+/);
    t.regex(text, /agent_batcher_backend_cost_fixed_seconds\{agent_type="scout",model="sim"\} 0\.0\d+/);

    const short = await post(`${running.url}/predict`, {
      agents: {a: {vector: [1, 2, 3], model: 'f32', agent_type: 'scout'}},
    });
    t.is(short.status, 422, 'vector_length comes from the model: D = 8');
    t.regex(short.body.error.details[0].message, /exactly 8 numbers/);
  },
);

test.serial(
  'every model the check refuses stops the start, naming the model, the file, what was expected and what was found',
  async (t) => {
    const dir = await tempDir(t);
    await oddModels.twoInputs(path.join(dir, 'two.onnx'));
    await oddModels.int64Input(path.join(dir, 'int64.onnx'));
    await oddModels.fixedBatch(path.join(dir, 'fixed.onnx'));
    await oddModels.garbage(path.join(dir, 'garbage.onnx'), 100);
    writeMlp(path.join(dir, 'd8.onnx'), mlp([8, 4, 1]));
    const cases: [object, RegExp][] = [
      [
        {backend: {kind: 'onnx', path: 'two.onnx'}},
        /model "bad", file two\.onnx: expected one input; found inputs: 2 \(x: float32 \["batch", 4\]; z: float32/,
      ],
      [
        {backend: {kind: 'onnx', path: 'int64.onnx'}},
        /model "bad", file int64\.onnx: expected a float32 or float64 input; found input x: int64/,
      ],
      [
        {backend: {kind: 'onnx', path: 'fixed.onnx'}},
        /model "bad", file fixed\.onnx: expected an input whose batch dimension is dynamic; found input x: float32 \[1, 4\] \(a fixed batch of 1\)/,
      ],
      [
        {backend: {kind: 'onnx', path: 'd8.onnx'}, vector_length: 5},
        /model "bad", file d8\.onnx: expected D = vector_length = 5; found input x: float32 \["batch", 8\], D = 8/,
      ],
      [
        {backend: {kind: 'onnx', path: 'missing.onnx'}},
        // A missing file is named by its full path too (relative ones are to MODELS_FILE's folder).
        /model "bad", file missing\.onnx \(\/.+\/missing\.onnx\): expected an ONNX model file; found no readable file \(ENOENT\)/,
      ],
      [
        {backend: {kind: 'onnx', path: 'garbage.onnx'}},
        /model "bad", file garbage\.onnx: expected an ONNX model; found a file onnxruntime cannot load: .*Protobuf parsing failed/,
      ],
    ];
    for (const [entry, message] of cases) {
      const file = await writeRegistry(dir, {good: {backend: {kind: 'onnx', path: 'd8.onnx'}}, bad: entry});
      const error = await startService({MODELS_FILE: file}).then(
        (running) => running.close().then(() => undefined),
        (e: unknown) => e,
      );
      t.true(error instanceof RegistryError, `${JSON.stringify(entry)}: ${error}`);
      t.regex((error as Error).message, message);
    }
    // 100 MB of garbage is refused without reading it whole into memory (the check process's peak RSS).
    const garbage = await runModelCheck([
      {model: 'bad', path: path.join(dir, 'garbage.onnx'), vectorLength: undefined},
    ]);
    t.true('expected' in garbage.results[0]);
    t.true(
      garbage.peakRssMb !== undefined && garbage.peakRssMb < 150,
      `check process peak RSS ${garbage.peakRssMb} MB`,
    );
    // The process itself: exit 1 with the reason, before it ever says ready.
    const file = await writeRegistry(dir, {bad: {backend: {kind: 'onnx', path: 'garbage.onnx'}}});
    const run = await promisify(execFile)(process.execPath, ['src/main.ts'], {
      env: {...process.env, ...testEnv, MODELS_FILE: file},
    }).catch((e) => e);
    t.is(run.code, 1);
    t.regex(
      run.stderr,
      /agent-batcher: MODELS_FILE: a model is refused:\n {2}model "bad", file garbage\.onnx: expected an ONNX model; found a file onnxruntime cannot load/,
    );
    t.notRegex(run.stdout, /"msg":"ready"/);
  },
);

test.serial(
  'SIGHUP with a refused model keeps the old session serving; with a changed valid file the session is swapped under load and every agent is exact, old model or new',
  async (t) => {
    const dir = await tempDir(t);
    const modelPath = path.join(dir, 'value.onnx');
    const before = writeMlp(modelPath, mlp([8, 32, 32, 1], 'float32', 11));
    const after = mlp([8, 32, 32, 1], 'float32', 12);
    const file = await writeRegistry(dir, {value: {backend: {kind: 'onnx', path: 'value.onnx'}}});
    const running = await startService({MODELS_FILE: file});
    t.teardown(() => running.close());
    const models = {value: before};

    // A refused file (an int64 input) in place of the model: the old session stays and serves.
    await oddModels.int64Input(modelPath);
    t.false(await running.service.reloadRegistry());
    const kept = await clients(running.url, models, 10, 4);
    t.deepEqual(exact(models, kept.sent, kept.replies), [], 'answers still come from the old model');

    // Load running while the new file is put in place (atomically, as a deploy would) and SIGHUP comes.
    const outcome: {
      which: 'before' | 'after' | 'either' | 'wrong';
      batch: string;
      startedAfterReload: boolean;
      doneBeforeReload: boolean;
    }[] = [];
    let reloaded = false;
    let reloadStarted = false;
    let stop = false;
    const loop = async (c: number) => {
      while (!stop) {
        const startedAfterReload = reloaded;
        const vectors = Array.from({length: 3}, () => row(8));
        const reply = await post(running.url + '/predict', {
          agents: Object.fromEntries(
            vectors.map((v, i) => [`a${i}`, {vector: v, model: 'value', agent_type: `t${c % 3}`}]),
          ),
        });
        const doneBeforeReload = !reloadStarted;
        vectors.forEach((v, i) => {
          const result = reply.body?.results?.[`a${i}`];
          // Both models' outputs sit near 1: for a rare row they agree within the tolerance, and
          // that answer tells neither model apart (it fits either).
          const old = closeTo(result?.prediction, mlpPredict(before, v));
          const fresh = closeTo(result?.prediction, mlpPredict(after, v));
          const which = old && fresh ? 'either' : old ? 'before' : fresh ? 'after' : 'wrong';
          outcome.push({which, batch: result?.batch?.id, startedAfterReload, doneBeforeReload});
        });
      }
    };
    const loops = Array.from({length: 8}, (_, c) => loop(c));
    await new Promise((r) => setTimeout(r, 200));
    const staged = path.join(dir, 'value.onnx.new');
    writeMlp(staged, after);
    await rename(staged, modelPath);
    reloadStarted = true;
    t.true(await running.service.reloadRegistry());
    reloaded = true;
    // Until requests sent after the reload have come back (state, not a sleep: a loaded machine is slow).
    while (outcome.filter((o) => o.startedAfterReload).length < 24) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(loops);

    t.deepEqual(
      outcome.filter((o) => o.which === 'wrong'),
      [],
      'every agent has the old or the new model value',
    );
    t.true(
      outcome.filter((o) => o.doneBeforeReload).every((o) => o.which === 'before' || o.which === 'either'),
      'answers before the reload: old model',
    );
    const late = outcome.filter((o) => o.startedAfterReload);
    t.deepEqual(
      late.filter((o) => o.which !== 'after' && o.which !== 'either'),
      [],
      'requests sent after the reload: new model',
    );
    const modelOfBatch = new Map<string, string>();
    for (const o of outcome) {
      if (o.which === 'either') continue;
      t.true((modelOfBatch.get(o.batch) ?? o.which) === o.which, `batch ${o.batch} ran on one session`);
      modelOfBatch.set(o.batch, o.which);
    }
  },
);

test.serial(
  'a runtime error of the model fails its batch with backend_error (logged by its thread, counted in /metrics); the other model and its clients are exact',
  async (t) => {
    const dir = await tempDir(t);
    await oddModels.runtimeError(path.join(dir, 'reshape.onnx'));
    const good = writeMlp(path.join(dir, 'good.onnx'), mlp([8, 16, 1]));
    const file = await writeRegistry(dir, {
      broken: {backend: {kind: 'onnx', path: 'reshape.onnx'}},
      good: {backend: {kind: 'onnx', path: 'good.onnx'}},
    });
    const running = await startService({MODELS_FILE: file});
    t.teardown(() => running.close());
    const models = {good};
    const [normal, broken] = await Promise.all([
      clients(running.url, models, 20, 3),
      post(`${running.url}/predict`, {agents: {x: {vector: [1, 2], model: 'broken', agent_type: 'scout'}}}),
    ]);
    t.deepEqual(exact(models, normal.sent, normal.replies), []);
    t.is(broken.status, 502);
    t.is(broken.body.results.x.error.code, 'backend_error');
    t.regex(broken.body.results.x.error.message, /model run failed/);
    // The actor thread logs the failure with its own logger (at warn); its report counts the call in /metrics.
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    t.regex(metrics, /agent_batcher_backend_calls_total\{agent_type="scout",model="broken",result="backend_error"\} 1/);
    const again = await clients(running.url, models, 5, 2);
    t.deepEqual(exact(models, again.sent, again.replies), [], 'the service carries on');

    // Two keys of the model cut in one turn share one run (8 rows × 2 floats: no [-1, 3] reshape);
    // when it fails each batch runs alone, and each gets its own outcome: 1 row fails to reshape,
    // 3 rows reshape to [2, 3] and give 2 values for 3 rows.
    const v = (x: number) => ({vector: [x, x], model: 'broken'});
    const shared = await post(`${running.url}/predict`, {
      agents: {
        a: {...v(1), agent_type: 'one'},
        b1: {...v(1), agent_type: 'three'},
        b2: {...v(2), agent_type: 'three'},
        b3: {...v(3), agent_type: 'three'},
      },
    });
    t.is(shared.body.results.a.error.code, 'backend_error');
    t.deepEqual(
      ['b1', 'b2', 'b3'].map((id) => shared.body.results[id].error.code),
      ['backend_bad_response', 'backend_bad_response', 'backend_bad_response'],
    );
    t.regex(shared.body.results.b1.error.message, /2 values for 3 rows/);
  },
);

test.serial(
  'a row whose output is not finite (a float64 value beyond float32 range) fails alone; its batch-mates and other clients are exact',
  async (t) => {
    const dir = await tempDir(t);
    const m = writeMlp(path.join(dir, 'm.onnx'), mlp([8, 16, 1]));
    const file = await writeRegistry(dir, {m: {backend: {kind: 'onnx', path: 'm.onnx'}}});
    const running = await startService({MODELS_FILE: file});
    t.teardown(() => running.close());
    const models = {m};
    const good = row(8);
    const [normal, mixed] = await Promise.all([
      clients(running.url, models, 20, 3),
      post(`${running.url}/predict`, {
        agents: {
          bad: {vector: [1e39, 0, 0, 0, 0, 0, 0, 0], model: 'm', agent_type: 'scout'},
          ok: {vector: good, model: 'm', agent_type: 'scout'},
        },
      }),
    ]);
    t.deepEqual(exact(models, normal.sent, normal.replies), []);
    t.is(mixed.status, 200);
    t.is(mixed.body.results.bad.error.code, 'backend_bad_response');
    t.true(closeTo(mixed.body.results.ok.prediction, mlpPredict(m, good)));
    t.is(mixed.body.results.bad.error.batch?.id ?? mixed.body.results.ok.batch.id, mixed.body.results.ok.batch.id);
  },
);

test.serial(
  'a thread that dies in the middle of its runs (an uncaught error): what it held is worker_failed, the rest exact, and the restarted thread serves the model',
  async (t) => {
    const dir = await tempDir(t);
    const m = writeMlp(path.join(dir, 'wide.onnx'), mlp([8, 512, 512, 1]));
    const file = await writeRegistry(dir, {wide: {backend: {kind: 'onnx', path: 'wide.onnx'}, max_batch_size: 16}});
    // Its thread dies on request (test/fixtures/dying-thread.ts), from its own loop between two runs.
    const service = new Service(
      loadConfig({...testEnv, MODELS_FILE: file, ACTOR_POOL_SIZE: '1'}),
      createLogger('silent'),
      {workerEntry: dyingThread},
    );
    t.teardown(() => service.shutdown());
    const running = {url: `http://127.0.0.1:${(await service.start()).port}`, service, close: () => service.shutdown()};
    const models = {wide: m};
    const load = clients(running.url, models, 40, 8);
    await held(running, 100);
    // Armed while it works through the load: the next rows it is sent are the last it takes.
    const worker = running.service.pool.workerOf(0);
    const died = new Promise((resolve) => worker?.once('exit', resolve));
    const armed = new Promise((resolve) => worker?.on('message', (m) => m?.fixture === 'armed' && resolve(m)));
    worker?.postMessage({fixture: 'die'});
    await armed;
    const last = clients(running.url, models, 4, 8);
    t.is(await died, 1, 'the thread died of its uncaught error');
    const [first, second] = await Promise.all([load, last]);
    const sent = [...first.sent, ...second.sent];
    const replies = [...first.replies, ...second.replies];
    let failed = 0;
    let predicted = 0;
    sent.forEach((agentsOf, c) => {
      for (const [id, a] of Object.entries(agentsOf)) {
        const r = replies[c].body.results[id];
        if (r.error) {
          t.is(r.error.code, 'worker_failed', id);
          failed++;
        } else {
          t.true(closeTo(r.prediction, mlpPredict(m, a.vector)), id);
          predicted++;
        }
      }
    });
    t.is(failed + predicted, 352, 'every agent has exactly one outcome');
    t.true(failed > 0, 'the killed thread held some rows');
    let after = await clients(running.url, models, 4, 2);
    for (let i = 0; i < 20 && after.replies.some((r) => r.status !== 200); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await clients(running.url, models, 4, 2);
    }
    t.deepEqual(exact(models, after.sent, after.replies), [], 'the restarted thread opened the model again');
  },
);

test.serial('registry: backend and backend_url together are refused; an onnx backend needs a path', async (t) => {
  const dir = await tempDir(t);
  for (const [entry, message] of [
    [
      {backend: {kind: 'simulated'}, backend_url: 'simulated'},
      /models\.m\.backend: give backend or backend_url, not both/,
    ],
    [{backend: {kind: 'onnx'}}, /models\.m\.backend\.path/],
    [{backend: {kind: 'onnx', path: 'x.onnx', intra_op_threads: 0}}, /models\.m\.backend\.intra_op_threads/],
    [{backend: {kind: 'grpc', url: 'http://x'}}, /models\.m\.backend\.kind/],
    [{backend: {kind: 'tfserving', url: 'http://x'}}, /models\.m\.backend\.model/],
  ] as const) {
    const file = await writeRegistry(dir, {m: entry});
    const error = await startService({MODELS_FILE: file}).then(
      (running) => running.close().then(() => undefined),
      (e: unknown) => e,
    );
    t.regex(String((error as Error)?.message), message);
  }
});
