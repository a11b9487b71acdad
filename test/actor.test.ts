import test from 'ava';
import {CostModel} from '../workers/cost-model.ts';
import {setImmediate as tick} from 'node:timers/promises';
import {createLogger} from '../src/log.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {Actor} from '../workers/actor.ts';
import type {Part} from '../workers/actor.ts';
import {BackendError} from '../workers/backend/backend.ts';
import {FakeClock} from './helpers/fake-clock.ts';
import {RecordingBackend} from './helpers/recording-backend.ts';
import {recordingSink} from './helpers/results.ts';

function setup(batching = {maxBatchSize: 3, maxWaitMs: 20, maxConcurrentBatches: 0}) {
  const clock = new FakeClock();
  const backend = new RecordingBackend();
  const {sink, results, reports} = recordingSink();
  let idle = 0;
  let seq = 0;
  const actor = new Actor(
    't\nm',
    {agentType: 't', model: 'm'},
    {
      clock,
      log: createLogger('silent'),
      nextBatchId: () => `b-${++seq}`,
      results: sink,
      idle: () => idle++,
    },
    {backend, batching: {...batching, waitFraction: 0.02}, window: undefined, cost: new CostModel()},
  );
  let partSeq = 0;
  const part = (row: number[], deadline = 1e12): Part => ({
    partId: ++partSeq,
    deadline,
    arrivedAt: 0,
    row: Float64Array.from(row),
    client: 0,
  });
  return {clock, backend, results, reports, actor, part, idleCount: () => idle};
}

const settle = () => tick();

test('actor sends a full batch at once and answers each part with its own row', async (t) => {
  const {backend, results, actor, part} = setup();
  actor.dispatch([part([1]), part([2]), part([3]), part([4])]);
  t.deepEqual(backend.sizes, [3]);
  backend.calls[0].answer();
  await settle();
  const b = bias('m', 't');
  t.deepEqual(
    results.map((r) => (r.outcome === 'prediction' ? [r.partId, r.prediction, r.batch.size] : r)),
    [
      [1, predictRow(b, [1]), 3],
      [2, predictRow(b, [2]), 3],
      [3, predictRow(b, [3]), 3],
    ],
  );
});

test('actor cuts the rest when the oldest row has waited maxWaitMs', async (t) => {
  const {clock, backend, actor, part} = setup();
  actor.dispatch([part([1])]);
  clock.advance(10);
  actor.dispatch([part([2])]);
  clock.advance(9);
  t.deepEqual(backend.sizes, []);
  clock.advance(1);
  t.deepEqual(backend.sizes, [2]);
});

test('actor holds at maxConcurrentBatches and sends the backlog when a call returns', async (t) => {
  const {clock, backend, actor, part} = setup({maxBatchSize: 2, maxWaitMs: 20, maxConcurrentBatches: 1});
  actor.dispatch([part([1]), part([2]), part([3]), part([4]), part([5])]);
  t.deepEqual(backend.sizes, [2]);
  clock.advance(100);
  t.deepEqual(backend.sizes, [2], 'nothing more while the one slot is busy');
  backend.calls[0].answer();
  await settle();
  t.deepEqual(backend.sizes, [2, 2], 'the backlog goes as soon as the slot frees');
  backend.calls[1].answer();
  await settle();
  t.deepEqual(backend.sizes, [2, 2, 1]);
});

test('a withdrawn part never reaches the backend and is confirmed as withdrawn', async (t) => {
  const {clock, backend, results, actor, part} = setup();
  const a = part([1]);
  const b = part([2]);
  actor.dispatch([a, b]);
  t.is(actor.withdraw(new Set([a.partId])), 1);
  t.deepEqual(results, [{partId: a.partId, outcome: 'withdrawn'}]);
  clock.advance(20);
  t.is(backend.calls.length, 1);
  t.deepEqual([...backend.calls[0].call.rows[0]], [2]);
  backend.calls[0].answer();
  await settle();
  t.like(results[1], {partId: b.partId, outcome: 'prediction', batch: {size: 1}});
});

test('an expired part is dropped at cut time instead of being sent', async (t) => {
  const {clock, backend, results, actor, part} = setup();
  actor.dispatch([part([1], 10), part([2])]);
  clock.advance(20);
  t.deepEqual(backend.sizes, [1]);
  t.like(results[0], {partId: 1, outcome: 'withdrawn'});
});

test('a reply of the wrong length fails every part of the batch with backend_bad_response', async (t) => {
  const {backend, results, actor, part} = setup();
  actor.dispatch([part([1]), part([2]), part([3])]);
  backend.calls[0].resolve({values: [1, 2]});
  await settle();
  t.is(results.length, 3);
  for (const r of results) t.like(r, {outcome: 'error', code: 'backend_bad_response', batch: {size: 3}});
});

test('a non-finite value in the reply fails its row only; its batch-mates keep their predictions', async (t) => {
  const {backend, results, actor, part} = setup();
  actor.dispatch([part([1]), part([2]), part([3])]);
  backend.calls[0].resolve({values: [1, Number.NaN, 'x']});
  await settle();
  t.like(results[0], {partId: 1, outcome: 'prediction', prediction: 1, batch: {size: 3}});
  t.like(results[1], {partId: 2, outcome: 'error', code: 'backend_bad_response', batch: {size: 3}});
  t.like(results[2], {partId: 3, outcome: 'error', code: 'backend_bad_response'});
});

test('a batch counts as partial only when some rows got predictions; all rows failed counts as the code', async (t) => {
  const {backend, results, reports, actor, part} = setup();
  actor.dispatch([part([1]), part([2]), part([3])]);
  backend.calls[0].resolve({values: [Number.POSITIVE_INFINITY, Number.NaN, null]});
  await settle();
  t.true(results.every((r) => r.outcome === 'error' && r.code === 'backend_bad_response'));
  actor.dispatch([part([4]), part([5]), part([6])]);
  backend.calls[1].resolve({values: [4, Number.NaN, 6]});
  await settle();
  actor.dispatch([part([7]), part([8]), part([9])]);
  backend.calls[2].resolve({values: [7, 8, 9], rejected: new Map([[0, 'refused']])});
  await settle();
  t.deepEqual(
    reports.map((r) => r.result),
    ['backend_bad_response', 'partial', 'partial'],
  );
});

test('a failed call fails every part with its code; rejected rows fail alone', async (t) => {
  const {backend, results, actor, part} = setup();
  actor.dispatch([part([1]), part([2]), part([3])]);
  backend.calls[0].reject(new BackendError('backend_error', 'boom'));
  await settle();
  t.deepEqual(
    results.map((r) => (r.outcome === 'error' ? r.code : r.outcome)),
    ['backend_error', 'backend_error', 'backend_error'],
  );
  results.length = 0;
  actor.dispatch([part([1]), part([2]), part([3])]);
  backend.calls[1].resolve({values: [7, 0, 9], rejected: new Map([[1, 'poisoned']])});
  await settle();
  t.deepEqual(
    results.map((r) => (r.outcome === 'error' ? r.code : r.outcome)),
    ['prediction', 'backend_rejected', 'prediction'],
  );
});

test('drain cuts waiting rows at once; the actor reports idle when empty', async (t) => {
  const {clock, backend, actor, part, idleCount} = setup();
  actor.dispatch([part([1])]);
  actor.drain();
  t.deepEqual(backend.sizes, [1]);
  t.is(clock.pendingTimers, 0);
  t.false(actor.isIdle);
  backend.calls[0].answer();
  await settle();
  t.true(actor.isIdle);
  t.true(idleCount() > 0);
});
