// An onnx model served by an actor host of a NATS cluster (ROLE=actors): the host checks and opens
// the model in its own threads, the gateway checks it too (for vector_length and GET /models) and
// never opens it in its main thread; every answer is the MLP's value.

import test from 'ava';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startActors, startGateway, startNats} from './helpers/cluster.ts';
import {closeTo, mlp, mlpPredict, row, tempDir, writeMlp, writeRegistry} from './helpers/onnx-models.ts';
import {post} from './helpers/service.ts';

test.serial(
  'an onnx model on an actor host of a NATS cluster answers every agent of every client, beside a simulated model',
  async (t) => {
    const dir = await tempDir(t);
    const m = writeMlp(path.join(dir, 'value.onnx'), mlp([8, 64, 1], 'float32', 5));
    const file = await writeRegistry(dir, {
      value: {backend: {kind: 'onnx', path: 'value.onnx'}},
      sim: {backend_url: 'simulated', max_wait_ms: 20},
    });
    const nats = await startNats();
    const host = await startActors(nats.url, {
      MODELS_FILE: file,
      BACKEND_LATENCY_MIN_MS: '20',
      BACKEND_LATENCY_MAX_MS: '40',
    });
    const gateway = await startGateway(nats.url, {MODELS_FILE: file});
    t.teardown(async () => {
      for (const p of [gateway, host, nats]) await p.stop('SIGKILL');
    });
    await sleep(500);
    const sent = Array.from({length: 30}, (_, c) =>
      Object.fromEntries(
        Array.from({length: 4}, (_, i) => [
          `c${c}-${i}`,
          {vector: row(8), model: i % 2 ? 'sim' : 'value', agent_type: `t${c % 3}`},
        ]),
      ),
    );
    const replies = await Promise.all(sent.map((agents) => post(`${gateway.url}/predict`, {agents})));
    const wrong: string[] = [];
    replies.forEach((reply, c) => {
      t.is(reply.status, 200, JSON.stringify(reply.body));
      for (const [id, a] of Object.entries(sent[c])) {
        const got = reply.body.results[id]?.prediction;
        const ok =
          a.model === 'value'
            ? closeTo(got, mlpPredict(m, a.vector))
            : got === predictRow(bias(a.model, a.agent_type), a.vector);
        if (!ok) wrong.push(`${id}: ${JSON.stringify(reply.body.results[id])}`);
      }
    });
    t.deepEqual(wrong, []);
    const listed: any = await (await fetch(`${gateway.url}/models`)).json();
    t.like(listed.models.value, {
      vector_length: 8,
      backend: {kind: 'onnx', input: {name: 'x', type: 'float32', shape: ['batch', 8]}},
    });
    t.true(listed.models.value.cost.length > 0, 'the gateway fits the cost from the host reports');
  },
);
