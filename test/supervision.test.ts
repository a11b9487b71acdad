import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {createLogger} from '../src/log.ts';
import {ActorPool} from '../src/threads/pool.ts';
import type {Registry} from '../src/registry.ts';
import {post, startService} from './helpers/service.ts';
import {until} from './helpers/until.ts';

const openRegistry: Registry = {
  models: undefined,
  defaults: {
    backend: {kind: 'simulated', latencyMinMs: 0, latencyMaxMs: 0},
    batching: {maxBatchSize: 4, maxWaitMs: 5, waitFraction: 0.02, maxConcurrentBatches: 0},
  },
};

test('killing a worker thread mid-batch fails its agents at once; other keys never notice; its keys work again', async (t) => {
  const running = await startService({
    ACTOR_POOL_SIZE: '2',
    // Long beside the kill: the doomed agents' answer can only come from the thread's death.
    BACKEND_LATENCY_MIN_MS: '3000',
    BACKEND_LATENCY_MAX_MS: '3000',
    MAX_WAIT_MS: '5',
  });
  t.teardown(() => running.close());
  const {coordinator, pool} = running.service;
  const doomed = {vector: [1, 2], model: 'doomed', agent_type: 'x'};
  const spared = {vector: [3], model: 'spared', agent_type: 'x'};
  const first = post(`${running.url}/predict`, {agents: {d1: doomed, d2: doomed}});
  let secondAnswered = false;
  const second = post(`${running.url}/predict`, {agents: {s1: spared}}).finally(() => (secondAnswered = true));
  // Both batches are in flight (one on each thread).
  await until(async () => (await pool.stats()).reduce((sum, s) => sum + s.inflight, 0) === 2);
  const thread = coordinator.threadOf('x', 'doomed')!;
  t.not(thread, coordinator.threadOf('x', 'spared'), 'the two keys live on different threads');

  await pool.workerOf(thread)!.terminate();
  const failed = await first;
  t.false(secondAnswered, 'answered at once: the other key, started with it, is still in its backend call');
  t.is(failed.status, 502);
  t.is(failed.body.results.d1.error.code, 'worker_failed');
  t.is(failed.body.results.d2.error.code, 'worker_failed');

  const ok = await second;
  t.is(ok.status, 200);
  t.is(ok.body.results.s1.prediction, predictRow(bias('spared', 'x'), [3]));

  const again = await post(`${running.url}/predict`, {agents: {d3: doomed}});
  t.is(again.status, 200);
  t.is(again.body.results.d3.prediction, predictRow(bias('doomed', 'x'), [1, 2]));
  t.is(pool.restarts, 1);
  t.is(coordinator.stats.liveParts, 0);
});

test('a thread that keeps dying is restarted with backoff, not in a tight loop', async (t) => {
  const failures: number[] = [];
  const failedAt: number[] = [];
  const lines: string[] = [];
  const log = createLogger('warn', {write: (line: string) => lines.push(line)});
  const pool = new ActorPool(
    {
      size: 1,
      threadOptions: {registry: openRegistry, logLevel: 'silent'},
      log,
      entry: new URL('./fixtures/crashing-thread.ts', import.meta.url),
    },
    {
      results: () => undefined,
      threadFailed: (thread) => {
        failures.push(thread);
        failedAt.push(Date.now());
      },
    },
  );
  t.teardown(() => pool.close());
  // However slow the machine (each start of the thread takes what it takes), five deaths come.
  await until(() => failedAt.length >= 5);
  // Without backoff a crashing thread restarts every few ms; with it after 0, 100, 200, 400 ms:
  // the time between two deaths is at least the backoff before the restart between them.
  const gaps = failedAt.slice(1, 5).map((at, i) => at - failedAt[i]);
  for (const [i, backoff] of [0, 100, 200, 400].entries()) t.true(gaps[i] >= backoff - 2, `gaps ${gaps.join(', ')} ms`);
  t.true(failures.every((s) => s === 0));
  // The policy's delays as the pool logged them: 0 ms, then doubling from 100 ms.
  const delays = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes('restarting'));
  t.deepEqual(
    delays.slice(0, 5).map((l) => l.restartInMs),
    [0, 100, 200, 400, 800],
  );
  t.true(
    lines.some((l) => l.includes('"level":50') && l.includes('restarting')),
    'logged loudly (error level)',
  );
});

test('a thread that runs out of memory under its heap limit dies alone and is restarted', async (t) => {
  const failures: number[] = [];
  const pool = new ActorPool(
    {
      size: 1,
      threadOptions: {registry: openRegistry, logLevel: 'silent'},
      log: createLogger('silent'),
      entry: new URL('./fixtures/hungry-thread.ts', import.meta.url),
      resourceLimits: {maxOldGenerationSizeMb: 32},
    },
    {results: () => undefined, threadFailed: (thread) => failures.push(thread)},
  );
  t.teardown(() => pool.close());
  await until(() => failures.length > 0);
  t.deepEqual(failures.slice(0, 1), [0], 'the thread died and reported');
  t.true(pool.restarts >= 1);
  t.true(process.memoryUsage().heapUsed < 512 * 1024 * 1024, 'this process was not the one that grew');
});
