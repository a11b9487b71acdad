import test from 'ava';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
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

test('clients take turns: a backlog of 1,000 rows from one client does not hold back three clients that came after it', (t) => {
  const q = new BatchQueue<string>(options({maxBatchSize: 8, maxConcurrentBatches: 1}));
  for (let i = 0; i < 1000; i++) q.push(`flood${i}`, 2, 0, 1);
  for (const [client, name] of [
    [2, 'a'],
    [3, 'b'],
    [4, 'c'],
  ] as const)
    q.push(name, 2, 5, client);
  q.push('a2', 2, 6, 2);
  const [first] = q.cut(20, 0);
  t.deepEqual(first.items, ['flood0', 'a', 'b', 'c', 'flood1', 'a2', 'flood2', 'flood3']);
  // The flood alone: it gets whole batches, nothing is wasted.
  t.deepEqual(q.cut(20, 0)[0].items, [
    'flood4',
    'flood5',
    'flood6',
    'flood7',
    'flood8',
    'flood9',
    'flood10',
    'flood11',
  ]);
  t.is(q.size, 1000 + 4 - 16);
});

test('turns go on across batches: each batch starts with the client after the last one served', (t) => {
  const q = new BatchQueue<string>(options({maxBatchSize: 3}));
  for (let i = 0; i < 4; i++) for (const c of [1, 2, 3, 4]) q.push(`${c}.${i}`, 1, 0, c);
  t.deepEqual(
    q.cut(0, 0).map((b) => b.items),
    [
      ['1.0', '2.0', '3.0'],
      ['4.0', '1.1', '2.1'],
      ['3.1', '4.1', '1.2'],
      ['2.2', '3.2', '4.2'],
      ['1.3', '2.3', '3.3'],
    ],
  );
  t.deepEqual(q.cut(20, 0), [{vectorLength: 1, items: ['4.3']}], 'the last row waits for its window');
});

test('the window counts from the oldest row of any client, even one whose turn has not come', (t) => {
  const q = new BatchQueue<string>(options({maxBatchSize: 3}));
  q.push('a0', 1, 0, 1);
  q.push('a1', 1, 0, 1);
  q.push('b0', 1, 1, 2);
  q.push('c0', 1, 2, 3);
  q.push('d0', 1, 2, 4);
  t.deepEqual(q.cut(2, 0)[0].items, ['a0', 'b0', 'c0'], 'a full group is cut at once');
  t.is(q.size, 2);
  t.is(q.nextDueAt(0), 20, 'a1 (time 0) is the oldest, though d0 has the next turn');
  t.deepEqual(q.cut(19, 0), []);
  t.deepEqual(q.cut(20, 0)[0].items, ['d0', 'a1']);
  t.is(q.size, 0);
});

test('removing rows leaves the turns consistent: a client whose rows are all gone takes no turn; back later, it takes one again', (t) => {
  const q = new BatchQueue<string>(options({maxBatchSize: 4}));
  for (let i = 0; i < 3; i++) for (const c of [1, 2, 3]) q.push(`${c}.${i}`, 1, i, c);
  t.deepEqual(
    q.remove((item) => item.startsWith('2.') || item === '1.0'),
    ['1.0', '2.0', '2.1', '2.2'],
  );
  t.is(q.size, 5);
  t.is(q.nextDueAt(0), 20, 'the oldest row left is 3.0, from time 0');
  t.deepEqual(q.cut(20, 0)[0].items, ['1.1', '3.0', '1.2', '3.1']);
  q.push('2.back', 1, 21, 2);
  t.deepEqual(q.cut(22, 0)[0].items, ['3.2', '2.back'], 'due by 3.2, from time 2');
  t.is(q.size, 0);
});

test('any mix of pushes, cuts and removals: every row comes out exactly once, each client’s rows in its own arrival order', (t) => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const q = new BatchQueue<{id: number; client: number}>(options({maxBatchSize: 5, maxConcurrentBatches: 2}));
  const out = new Map<number, number[]>();
  let id = 0;
  let now = 0;
  let pushed = 0;
  let seen = 0;
  const record = (item: {id: number; client: number}) => {
    const list = out.get(item.client) ?? [];
    out.set(item.client, [...list, item.id]);
    seen++;
  };
  for (let step = 0; step < 3000; step++) {
    now += random() < 0.3 ? 5 : 0;
    const r = random();
    if (r < 0.6) {
      const client = Math.floor(random() * 6);
      q.push({id: ++id, client}, 1 + (client % 2), now, client);
      pushed++;
    } else if (r < 0.9) for (const batch of q.cut(now, 0)) batch.items.forEach(record);
    else for (const item of q.remove((x) => x.id % 7 === 0)) record(item);
    t.is(q.size, pushed - seen);
  }
  for (const batch of q.cut(now, 0, true)) batch.items.forEach(record);
  t.is(seen, pushed);
  t.is(q.size, 0);
  for (const ids of out.values())
    t.deepEqual(
      ids.filter((x) => x % 7 !== 0),
      [...ids.filter((x) => x % 7 !== 0)].sort((a, b) => a - b),
    );
  t.is(new Set([...out.values()].flat()).size, pushed, 'no row twice');
});

test('due groups of different lengths take turns: a backlog of one length does not hold back a row of another until it drains', (t) => {
  const q = new BatchQueue<string>(options({maxBatchSize: 2, maxConcurrentBatches: 1}));
  for (let i = 0; i < 10; i++) q.push(`L4.${i}`, 4, 0, 1);
  q.push('L8', 8, 1, 2);
  t.deepEqual(q.cut(0, 0)[0].items, ['L4.0', 'L4.1']);
  t.deepEqual(q.cut(21, 0)[0].items, ['L8'], 'once due, the other length is next, not after the backlog');
  t.deepEqual(q.cut(21, 0)[0].items, ['L4.2', 'L4.3']);
});

test('rows that left in a batch are let go while an older row still waits: the queue holds what waits, not what passed through', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // One client's backlog is served a row per round while new clients' rows pass its oldest row.
  const q = new BatchQueue<{data: Float64Array}>(options({maxBatchSize: 8, maxConcurrentBatches: 1}));
  for (let i = 0; i < 500; i++) q.push({data: new Float64Array(1024)}, 16, 0, 1);
  const passed: WeakRef<object>[] = [];
  for (let round = 1; round <= 400; round++) {
    for (let c = 0; c < 7; c++) q.push({data: new Float64Array(1024)}, 16, round, 1000 + round * 8 + c);
    for (const batch of q.cut(round, 0)) for (const item of batch.items) passed.push(new WeakRef(item));
  }
  t.true(q.size > 0 && q.size < 500, `${q.size} of the backlog still waits`);
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const kept = passed.filter((ref) => ref.deref() !== undefined).length;
  t.true(kept < 64, `${kept} of ${passed.length} rows that left are still held`);
});
