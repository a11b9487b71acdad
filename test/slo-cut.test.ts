// The batch policy with a latency SLO and a fitted cost (DESIGN §11), and the work-conserving
// settings of an in-thread model: pure, driven with plain numbers and the fake clock, never sleeping.

import test from 'ava';
import {setImmediate as tick} from 'node:timers/promises';
import {createLogger} from '../src/log.ts';
import {Actor} from '../workers/actor.ts';
import type {Part} from '../workers/actor.ts';
import {BatchQueue} from '../workers/batch-policy.ts';
import {CostModel} from '../workers/cost-model.ts';
import {canMeetDeadline, sloBatchSize, sloCutBy} from '../workers/slo-cut.ts';
import {FakeClock} from './helpers/fake-clock.ts';
import {RecordingBackend} from './helpers/recording-backend.ts';
import {recordingSink} from './helpers/results.ts';

const cost = {fixedMs: 2, perRowMs: 0.5, calls: 20};
const slo = {sloMs: 50, cost};

test('sloBatchSize takes the largest batch whose oldest row still meets the SLO', (t) => {
  // 50 - 10 waited - 2 fixed = 38 ms for rows at 0.5 ms: 76 rows.
  t.is(sloBatchSize(slo, 10, 500, 1000), 76);
  t.is(sloBatchSize(slo, 10, 40, 1000), 40, 'never more than are waiting');
  t.is(sloBatchSize(slo, 10, 500, 64), 64, 'never more than max_batch_size');
  t.is(sloBatchSize(slo, 47.4, 500, 64), 1, 'one row still fits');
  t.is(sloBatchSize({sloMs: 50, cost: undefined}, 10, 500, 64), 64, 'before any measured call: max_batch_size decides');
  t.is(sloBatchSize({sloMs: 50, cost: {...cost, perRowMs: 0}}, 10, 500, 64), 64, 'a flat cost does not limit the size');
});

test('a head that can no longer make the SLO is cut at full size: the backlog drains at the best rate', (t) => {
  t.is(sloBatchSize(slo, 49, 500, 64), 64);
  t.is(sloBatchSize(slo, 300, 20, 64), 20);
});

test('sloCutBy is the latest cut for a batch of n rows; canMeetDeadline compares now + predicted with the deadline', (t) => {
  t.is(sloCutBy(slo, 1000, 16), 1000 + 50 - (2 + 8));
  t.is(sloCutBy({sloMs: 50, cost: undefined}, 1000, 16), Infinity);
  t.true(canMeetDeadline(100, 111, 10));
  t.false(canMeetDeadline(100, 110, 10));
  t.true(canMeetDeadline(100, 101, undefined));
});

test('work-conserving (window 0, one call at a time): idle runtime cuts at once, a busy one gathers and the next batch takes everything', (t) => {
  const queue = new BatchQueue<number>({maxBatchSize: 100, maxWaitMs: 0, maxConcurrentBatches: 1});
  queue.push(1, 4, 0);
  t.deepEqual(
    queue.cut(0, 0).map((b) => b.items),
    [[1]],
    'a lone row at low load goes at once: no window',
  );
  for (let i = 2; i <= 40; i++) queue.push(i, 4, i);
  t.deepEqual(queue.cut(40, 1), [], 'nothing is cut while the runtime is busy');
  t.is(queue.nextDueAt(1), undefined, 'and no timer: the call coming back is the next event');
  const [batch] = queue.cut(41, 0);
  t.is(batch.items.length, 39, 'everything that gathered goes in the next batch');
});

test('with an SLO a window cut comes early enough for the oldest row, and a batch is capped at what the SLO allows', (t) => {
  const queue = new BatchQueue<number>({maxBatchSize: 1000, maxWaitMs: 100, maxConcurrentBatches: 0, slo});
  for (let i = 0; i < 10; i++) queue.push(i, 4, 0);
  // 10 rows cost 7 ms: due at 50 - 7 = 43 ms, well before the 100 ms window.
  t.is(queue.nextDueAt(0), 43);
  t.deepEqual(queue.cut(42, 0), []);
  t.is(queue.cut(43, 0)[0].items.length, 10);

  const busy = new BatchQueue<number>({maxBatchSize: 1000, maxWaitMs: 0, maxConcurrentBatches: 1, slo});
  for (let i = 0; i < 300; i++) busy.push(i, 4, 0);
  // Waited 20 ms: 50 - 20 - 2 = 28 ms left, 56 rows.
  const sizes = [busy.cut(20, 0)[0].items.length];
  t.deepEqual(sizes, [56]);
});

function actorWithSlo(latencySloMs: number, train: (cost: CostModel) => void) {
  const clock = new FakeClock();
  clock.advance(1000);
  const backend = new RecordingBackend();
  const {sink, results} = recordingSink();
  const model = new CostModel();
  train(model);
  let seq = 0;
  const actor = new Actor(
    't\nm',
    {agentType: 't', model: 'm'},
    {clock, log: createLogger('silent'), nextBatchId: () => `b-${++seq}`, results: sink, idle: () => {}},
    {
      backend,
      batching: {maxBatchSize: 64, maxWaitMs: 0, maxConcurrentBatches: 1, waitFraction: 0.02, latencySloMs},
      window: undefined,
      cost: model,
    },
  );
  let partSeq = 0;
  const part = (deadline: number): Part => ({
    partId: ++partSeq,
    deadline,
    arrivedAt: clock.now(),
    row: Float64Array.of(partSeq),
    client: 0,
  });
  return {clock, backend, results, actor, part};
}

test('under an SLO a row whose deadline falls before the predicted end of its batch gets deadline_exceeded before the backend sees it', async (t) => {
  // A backend that takes 10 ms + 1 ms per row.
  const {clock, backend, results, actor, part} = actorWithSlo(200, (c) => {
    for (let i = 0; i < 40; i++) c.observe(1 + (i % 8), 10 + (1 + (i % 8)));
  });
  const now = clock.now();
  // 4 rows: predicted 14 ms. Deadlines 5 ms and 13 ms away cannot be met; 15 ms and 1 s can.
  actor.dispatch([part(now + 5), part(now + 1000), part(now + 13), part(now + 15)]);
  t.deepEqual(backend.sizes, [2], 'only the two rows that can make it are computed');
  t.deepEqual(
    [...backend.calls[0].call.rows].map((r) => r[0]),
    [2, 4],
  );
  t.deepEqual(
    results.filter((r) => r.outcome === 'error').map((r) => [r.partId, r.outcome === 'error' && r.code]),
    [
      [1, 'deadline_exceeded'],
      [3, 'deadline_exceeded'],
    ],
  );
  backend.calls[0].answer();
  await tick();
  t.is(results.filter((r) => r.outcome === 'prediction').length, 2);
});

test('under an SLO the actor cuts a batch the size the fitted cost allows; rows already past the SLO then go at full size', async (t) => {
  // 1 ms fixed + 1 ms per row, SLO 21 ms: at most 20 rows per batch for a row that has not waited.
  const {clock, backend, actor, part} = actorWithSlo(21, (c) => {
    for (let i = 0; i < 40; i++) c.observe(1 + (i % 8), 1 + (1 + (i % 8)));
  });
  actor.dispatch(Array.from({length: 50}, () => part(Number.MAX_SAFE_INTEGER)));
  t.deepEqual(backend.sizes, [20]);
  clock.advance(21);
  backend.calls[0].answer();
  await tick();
  // The 30 left have waited 21 ms: none can make the SLO whatever the size, so all go together (catch-up).
  t.deepEqual(backend.sizes, [20, 30]);
});

test('under an SLO a batch sized for the oldest row’s wait starts with that row, whatever the clients’ turns', (t) => {
  // Client 1's second row is the oldest once its first left; clients 2-4 came after it. In turn
  // order the next batch would start with client 2, and the oldest row wait past its SLO.
  const queue = new BatchQueue<string>({maxBatchSize: 3, maxWaitMs: 1000, maxConcurrentBatches: 0, slo});
  queue.push('1a', 1, 0, 1);
  queue.push('1b', 1, 0, 1);
  for (const c of [2, 3, 4, 5]) queue.push(`${c}`, 1, 1, c);
  const [first, second] = queue.cut(1, 0);
  t.deepEqual(first.items, ['1a', '2', '3']);
  t.is(second.items[0], '1b', 'the oldest row left goes first');
  t.deepEqual(new Set(second.items), new Set(['1b', '4', '5']));
});
