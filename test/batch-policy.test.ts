import test from 'ava';
import {BatchQueue} from '../workers/batch-policy.ts';

const options = (o: Partial<{maxBatchSize: number; maxWaitMs: number; maxConcurrentBatches: number}> = {}) => ({
  maxBatchSize: 4,
  maxWaitMs: 20,
  maxConcurrentBatches: 0,
  ...o,
});

const fill = (q: BatchQueue<string>, names: string[], length: number, at: number) => {
  for (const n of names) q.push(n, length, at);
};

test('batcher cuts at maxBatchSize without waiting', (t) => {
  const q = new BatchQueue<string>(options());
  fill(q, ['a', 'b', 'c'], 3, 0);
  t.deepEqual(q.cut(0, 0), []);
  q.push('d', 3, 1);
  t.deepEqual(q.cut(1, 0), [{vectorLength: 3, items: ['a', 'b', 'c', 'd']}]);
  t.is(q.size, 0);
});

test('a full backlog is cut into several batches of at most maxBatchSize, in arrival order', (t) => {
  const q = new BatchQueue<string>(options());
  fill(q, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], 2, 0);
  const batches = q.cut(0, 0);
  t.deepEqual(
    batches.map((b) => b.items),
    [
      ['a', 'b', 'c', 'd'],
      ['e', 'f', 'g', 'h'],
    ],
  );
  t.is(q.size, 1);
  t.is(q.nextDueAt(2), 20);
  t.deepEqual(q.cut(20, 2), [{vectorLength: 2, items: ['i']}]);
});

test('batcher cuts at maxWaitMs counted from the oldest row, not from the previous batch', (t) => {
  const q = new BatchQueue<string>(options());
  q.push('a', 1, 100);
  t.is(q.nextDueAt(0), 120);
  q.push('b', 1, 115);
  t.deepEqual(q.cut(119, 0), []);
  t.deepEqual(q.cut(120, 0), [{vectorLength: 1, items: ['a', 'b']}]);
  // The next batch's clock starts at its own oldest row (130), not at the cut (120).
  q.push('c', 1, 130);
  t.is(q.nextDueAt(0), 150);
  t.deepEqual(q.cut(149, 0), []);
  t.deepEqual(q.cut(150, 0), [{vectorLength: 1, items: ['c']}]);
});

test('batcher holds while maxConcurrentBatches calls are in flight, then sends the backlog at once', (t) => {
  const q = new BatchQueue<string>(options({maxConcurrentBatches: 1}));
  fill(q, ['a', 'b', 'c', 'd', 'e', 'f'], 1, 0);
  t.deepEqual(
    q.cut(0, 0).map((b) => b.items),
    [['a', 'b', 'c', 'd']],
  );
  q.push('g', 1, 5);
  // One call in flight: nothing is cut, and no timer is due (a freed slot is the next event).
  t.deepEqual(q.cut(100, 1), []);
  t.is(q.nextDueAt(1), undefined);
  // The slot frees at 100: the held rows (oldest waited 100 ms) go at once.
  t.deepEqual(
    q.cut(100, 0).map((b) => b.items),
    [['e', 'f', 'g']],
  );
});

test('concurrency limit caps the number of batches cut at once', (t) => {
  const q = new BatchQueue<string>(options({maxConcurrentBatches: 2}));
  fill(
    q,
    Array.from({length: 16}, (_, i) => `r${i}`),
    1,
    0,
  );
  t.is(q.cut(0, 1).length, 1);
  t.is(q.cut(0, 0).length, 2);
  t.is(q.size, 4);
});

test('mixed vector lengths form separate batches', (t) => {
  const q = new BatchQueue<string>(options());
  q.push('a3', 3, 0);
  q.push('b2', 2, 1);
  q.push('c3', 3, 2);
  q.push('d2', 2, 3);
  const batches = q.cut(25, 0);
  t.deepEqual(batches, [
    {vectorLength: 3, items: ['a3', 'c3']},
    {vectorLength: 2, items: ['b2', 'd2']},
  ]);
});

test('a full group of one length is cut while another length keeps waiting', (t) => {
  const q = new BatchQueue<string>(options());
  fill(q, ['a', 'b', 'c', 'd'], 8, 0);
  q.push('x', 2, 0);
  t.deepEqual(q.cut(1, 0), [{vectorLength: 8, items: ['a', 'b', 'c', 'd']}]);
  t.is(q.size, 1);
  t.is(q.nextDueAt(0), 20);
});

test('drain cuts every waiting row without waiting for maxWaitMs', (t) => {
  const q = new BatchQueue<string>(options());
  q.push('a', 1, 0);
  q.push('b', 2, 0);
  t.deepEqual(
    q.cut(1, 0, true).map((b) => b.items),
    [['a'], ['b']],
  );
});

test('removed rows never reach a batch; the others keep their order and their age', (t) => {
  const q = new BatchQueue<string>(options());
  q.push('a', 1, 0);
  q.push('b', 1, 5);
  q.push('c', 1, 10);
  t.deepEqual(
    q.remove((x) => x === 'a'),
    ['a'],
  );
  t.is(q.size, 2);
  t.is(q.nextDueAt(0), 25);
  t.deepEqual(q.cut(25, 0), [{vectorLength: 1, items: ['b', 'c']}]);
  t.deepEqual(
    q.remove(() => true),
    [],
  );
});

test('a large queue drained batch by batch keeps arrival order', (t) => {
  const q = new BatchQueue<number>(options({maxBatchSize: 7}));
  for (let i = 0; i < 5000; i++) q.push(i, 1, i);
  const seen: number[] = [];
  let now = 0;
  while (q.size > 0) for (const b of q.cut((now += 50), 0)) seen.push(...b.items);
  t.deepEqual(
    seen,
    Array.from({length: 5000}, (_, i) => i),
  );
});
