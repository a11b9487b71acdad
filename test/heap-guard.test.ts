// The process's memory is shared by every client: a flood of open requests must be turned away
// with 503s before the heap runs out, never take the gateway (and everyone's requests) down.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import test from 'ava';
import {Pool} from 'undici';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {heapGuard} from '../src/http/heap-guard.ts';
import {post, randomVector, startService} from './helpers/service.ts';
import {until} from './helpers/until.ts';

test('the guard says full only above its fraction of the limit, and reads the heap at most every 20 ms', (t) => {
  let used = 50;
  let reads = 0;
  let now = 1000;
  const full = heapGuard(
    0.8,
    () => {
      reads++;
      return {used_heap_size: used, heap_size_limit: 100};
    },
    () => now,
  );
  t.false(full());
  used = 81;
  now += 19;
  t.false(full(), 'the last reading stands within 20 ms');
  t.is(reads, 1);
  now += 1;
  t.true(full());
  t.is(reads, 2);
  used = 80;
  t.true(full(), 'exactly 80% is not above the fraction, but is not read yet');
  now += 20;
  t.false(full(), '80% of the limit is not above it');
  t.is(reads, 3);
});

test('past MAX_HEAP_FRACTION, /predict is refused with 503 overloaded and Retry-After, before its body is read', async (t) => {
  // A fraction no heap is under: every request is past it.
  const service = await startService({MAX_HEAP_FRACTION: '0.001'});
  t.teardown(() => service.close());
  const reply = await post(`${service.url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  t.is(reply.status, 503);
  t.is(reply.body.error.code, 'overloaded');
  t.regex(reply.body.error.message, /short of memory/);
  t.is(reply.headers.get('retry-after'), '1');
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  t.regex(metrics, /agent_batcher_admissions_refused_total\{reason="heap_full"\} 1/);
});

test('a flood of open requests against a small heap is refused in part; the process lives, every answer is exact', async (t) => {
  const port = await freePort();
  // A 48 MB old space (and a small young one, so that the limit is mostly old space): about 1,500 open requests fill it past MAX_HEAP_FRACTION (0.85).
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '--max-old-space-size=48', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      ACTOR_POOL_SIZE: '1',
      // Long enough that the flood is all open at once however slowly a loaded machine sends it.
      BACKEND_LATENCY_MIN_MS: '10000',
      BACKEND_LATENCY_MAX_MS: '12000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}/readyz`, {child, timeoutMs: 50_000});
  const clients = 3000;
  const pool = new Pool(url, {connections: clients, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000});
  const statuses = new Map<number, number>();
  let wrong = 0;
  let heapRefusals = 0;
  await Promise.all(
    Array.from({length: clients}, async (_, i) => {
      const agents = {[`a${i}`]: {vector: randomVector(16), model: `m${i % 3}`, agent_type: 'scout'}};
      const response = await pool.request({
        path: '/predict',
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({agents}),
      });
      const body = (await response.body.json()) as any;
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (response.statusCode === 200) {
        const a = agents[`a${i}`];
        if (body.results[`a${i}`].prediction !== predictRow(bias(a.model, a.agent_type), a.vector)) wrong++;
      } else if (
        response.statusCode === 503 &&
        /short of memory/.test(body.error.message) &&
        response.headers['retry-after'] === '1'
      ) {
        heapRefusals++;
      }
    }),
  );
  await pool.close();
  t.is(child.exitCode, null, 'the process lived through it');
  t.true(heapRefusals > 0, `some requests were refused for memory (statuses ${JSON.stringify([...statuses])})`);
  t.true((statuses.get(200) ?? 0) > 0, 'and the others were served');
  t.is(
    (statuses.get(200) ?? 0) + heapRefusals,
    clients,
    `every request was answered or refused for memory (statuses ${JSON.stringify([...statuses])})`,
  );
  t.is(wrong, 0);
  // Once the flood is over, the heap is collected and requests get in again.
  const after = await until(async () => {
    const reply = await post(`${url}/predict`, {agents: {x: {vector: [1, 2], model: 'm0', agent_type: 'scout'}}});
    return reply.status === 200 ? reply : undefined;
  }, 200);
  t.is(after.body.results.x.prediction, predictRow(bias('m0', 'scout'), [1, 2]));
  child.kill('SIGTERM');
  await once(child, 'exit');
});
