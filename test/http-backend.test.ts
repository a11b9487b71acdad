import test from 'ava';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {matrixBody} from '../workers/backend/http.ts';
import {checkedBurst} from './helpers/checked-burst.ts';
import {post, startService} from './helpers/service.ts';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

const agent = (model: string, vector: number[] = [1, 2, 3]) => ({vector, model, agent_type: 'probe'});
const exact = (model: string, vector: number[]) => predictRow(bias(model, 'probe'), vector);

test('the matrix body is the text JSON.stringify writes, for every kind of float', (t) => {
  const rows = [
    new Float64Array([0, -0, 1, -1.5, 0.1 + 0.2, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, -Number.MIN_VALUE]),
    new Float64Array([]),
    new Float64Array([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2]),
    new Float64Array([123456789.125]),
  ];
  const [model, agentType] = ['m"1\\', 'ü\n\u2028'];
  for (const matrix of [rows, rows.slice(0, 1), rows.slice(3), []]) {
    const expected = JSON.stringify({model, agent_type: agentType, vectors: matrix.map((r) => Array.from(r))});
    t.is(matrixBody(model, agentType, matrix), expected);
  }
});

test.serial(
  'every backend fault gets its own code while healthy agents of the same request get exact predictions',
  async (t) => {
    const backend = await startFakeBackend({slowMs: 1500});
    t.teardown(() => backend.close());
    const running = await startService({
      BACKEND_URL: backend.url,
      BACKEND_TIMEOUT_MS: '300',
      BACKEND_RETRIES: '2',
      MAX_WAIT_MS: '30',
      REQUEST_TIMEOUT_MS: '10000',
    });
    t.teardown(() => running.close());

    const poisonRows = [
      [1, 2],
      [3, 4],
      [666, 1],
      [5, 6],
      [7, 8],
    ];
    const agents: Record<string, unknown> = {
      healthy: agent('good'),
      'fail-500': agent('fail500'),
      'flaky-503': agent('flaky503'),
      'conn-reset': agent('reset'),
      'too-slow': agent('slow'),
      'non-json': agent('nonjson'),
      'wrong-length': agent('wronglen'),
      'not-a-number': agent('nan'),
    };
    poisonRows.forEach((row, i) => {
      agents[`poison-${i}`] = agent('poison', row);
    });
    const reply = await post(`${running.url}/predict`, {agents});
    const r = reply.body.results;
    t.is(reply.status, 200);
    t.true(reply.body.errors);

    t.is(r.healthy.prediction, exact('good', [1, 2, 3]));
    t.is(r['fail-500'].error.code, 'backend_error');
    t.is(r['flaky-503'].prediction, exact('flaky503', [1, 2, 3]));
    t.is(r['conn-reset'].error.code, 'backend_error');
    t.is(r['too-slow'].error.code, 'backend_error');
    t.regex(r['too-slow'].error.message, /no answer within 300 ms/);
    t.is(r['non-json'].error.code, 'backend_bad_response');
    t.is(r['wrong-length'].error.code, 'backend_bad_response');
    t.is(r['not-a-number'].error.code, 'backend_bad_response');
    poisonRows.forEach((row, i) => {
      if (row[0] === 666) t.is(r[`poison-${i}`].error.code, 'backend_rejected');
      else t.is(r[`poison-${i}`].prediction, exact('poison', row), `poison batch-mate ${i} keeps its prediction`);
    });
    for (const [id, result] of Object.entries<any>(r))
      t.log(id.padEnd(14), result.error ? result.error.code : 'prediction');

    // Retries: 1 + BACKEND_RETRIES attempts for retryable faults, none for a bad reply.
    t.is(backend.calls('fail500').length, 3);
    t.is(backend.calls('reset').length, 3);
    t.is(backend.calls('flaky503').length, 2);
    t.is(backend.calls('nonjson').length, 1);
    t.is(backend.calls('wronglen').length, 1);
    // Isolation of one refused row among 5 costs at most 2·ceil(log2 5) calls beyond the first.
    const poisonCalls = backend.calls('poison');
    t.is(poisonCalls[0].vectors.length, 5, 'the five poison agents travelled as one batch');
    t.true(poisonCalls.length <= 1 + 2 * Math.ceil(Math.log2(5)), `${poisonCalls.length} calls`);
    t.is(
      poisonCalls.filter((c) => c.status === 200).reduce((n, c) => n + c.vectors.length, 0),
      4,
    );
  },
);

test.serial('retries stop at the batch deadline', async (t) => {
  const backend = await startFakeBackend();
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    BACKEND_RETRIES: '50',
    REQUEST_TIMEOUT_MS: '400',
    MAX_WAIT_MS: '5',
  });
  t.teardown(() => running.close());
  const started = Date.now();
  const reply = await post(`${running.url}/predict`, {agents: {a: agent('fail500')}});
  // It gives up when the next attempt could not start before the deadline (backend_error, 502),
  // or the deadline itself answers first (deadline_exceeded, 504): never a late attempt.
  const code = reply.body.results.a.error.code;
  t.true(code === 'backend_error' || code === 'deadline_exceeded', code);
  t.is(reply.status, code === 'backend_error' ? 502 : 504);
  t.true(Date.now() - started < 400 + 300, 'answered by the deadline');
  await sleep(600);
  const calls = backend.calls('fail500');
  t.true(calls.length > 1, 'it did retry');
  t.true(calls.length < 51, `${calls.length} attempts, not all 51`);
  for (const call of calls) t.true(call.at <= started + 400 + 50, 'no attempt starts after the deadline');
});

test.serial('500 clients over HTTP: exact predictions, rectangular matrices within MAX_BATCH_SIZE', async (t) => {
  const backend = await startFakeBackend({latencyMs: 50});
  t.teardown(() => backend.close());
  const running = await startService({BACKEND_URL: backend.url, ACTOR_POOL_SIZE: '2', MAX_BATCH_SIZE: '16'});
  t.teardown(() => running.close());
  const figures = await checkedBurst(
    t,
    running.url,
    {clients: 500, maxAgents: 8, models: ['m-a', 'm-b', 'm-c'], agentTypes: ['scout', 'pilot'], lengths: [3, 16]},
    16,
  );
  t.log(JSON.stringify(figures));
  t.is(backend.received.length, figures.batches);
  for (const call of backend.received) {
    t.true(call.vectors.length >= 1 && call.vectors.length <= 16);
    t.true(
      call.vectors.every((row) => row.length === call.vectors[0].length),
      'rectangular',
    );
  }
});

test.serial('the concurrency check passes against `npm run backend` too', async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/simulator/server-main.ts'], {
    env: {
      ...process.env,
      BACKEND_PORT: String(port),
      HOST: '127.0.0.1',
      BACKEND_LATENCY_MIN_MS: '50',
      BACKEND_LATENCY_MAX_MS: '150',
      LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  t.teardown(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}/predict`;
  await waitUntilUp(`http://127.0.0.1:${port}/healthz`, {child});
  const running = await startService({BACKEND_URL: url});
  t.teardown(() => running.close());
  const figures = await checkedBurst(
    t,
    running.url,
    {
      clients: 300,
      maxAgents: 6,
      models: ['resnet-50', 'gpt-mini', 'bert-base'],
      agentTypes: ['scout', 'pilot'],
      lengths: [4, 9],
    },
    32,
  );
  t.log(JSON.stringify(figures));
  // The standalone backend refuses a ragged matrix the way a real model server would.
  const ragged = await fetch(url, {
    method: 'POST',
    body: JSON.stringify({model: 'm', agent_type: 't', vectors: [[1], [1, 2]]}),
  });
  t.is(ragged.status, 400);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.is(code, 0);
});

test.serial('no unhandled rejection and no leaked socket across the suite', async (t) => {
  await sleep(100);
  t.deepEqual(unhandled, []);
  const sockets = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  t.deepEqual(sockets, []);
});
