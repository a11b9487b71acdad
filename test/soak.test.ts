// Sustained load leaves heap and pending maps flat. Short in CI; SOAK_SECONDS=60 npm test for longer.

import test from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapAfterGc = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
};

test('sustained load leaves heap and pending maps flat', async (t) => {
  const seconds = Number(process.env.SOAK_SECONDS ?? 3);
  const running = await startService({
    BACKEND_LATENCY_MIN_MS: '5',
    BACKEND_LATENCY_MAX_MS: '15',
    MAX_WAIT_MS: '2',
    ACTOR_POOL_SIZE: '2',
  });
  t.teardown(() => running.close());
  const {coordinator} = running.service;
  const models = ['m1', 'm2', 'm3'];
  let requests = 0;
  let wrong = 0;

  const drive = async (until: number) => {
    await Promise.all(
      Array.from({length: 64}, async (_, c) => {
        while (Date.now() < until) {
          const model = models[(c + requests) % 3];
          const vector = [c, requests % 7, 1];
          const reply = await post(`${running.url}/predict`, {
            agents: {a: {vector, model, agent_type: 't'}, b: {vector: [1], model, agent_type: 'u'}},
          });
          requests++;
          if (reply.status !== 200 || reply.body.results.a.prediction !== predictRow(bias(model, 't'), vector)) wrong++;
        }
      }),
    );
  };

  await drive(Date.now() + 1000); // warm up: JIT, pools, connections
  const warm = await heapAfterGc();
  const warmRequests = requests;
  await drive(Date.now() + seconds * 1000);
  const end = await heapAfterGc();
  const growth = (end - warm) / 1024 / 1024;
  t.log(
    `${requests - warmRequests} requests in ${seconds} s after warm-up; heap ${(warm / 1048576).toFixed(1)} → ${(end / 1048576).toFixed(1)} MiB`,
  );
  t.is(wrong, 0);
  t.is(coordinator.stats.openRequests, 0);
  t.is(coordinator.stats.liveParts, 0);
  t.is(coordinator.stats.keys, 6);
  t.true(growth < 16, `heap grew ${growth.toFixed(1)} MiB`);
  const hosts = await running.service.pool.stats();
  t.deepEqual(
    hosts.map((h) => h.pending + h.inflight),
    [0, 0],
    'no thread holds anything',
  );
});
