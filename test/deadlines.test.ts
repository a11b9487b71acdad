import test from 'ava';
import {DeadlineQueue} from '../src/coordinator/deadlines.ts';
import type {Timed} from '../src/coordinator/deadlines.ts';

interface Item extends Timed {
  readonly name: number;
}

const item = (name: number, deadline: number): Item => ({name, deadline, heapIndex: -1});
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('items expire in deadline order, none before its deadline; deleted ones never', async (t) => {
  const expired: {item: Item; at: number}[] = [];
  const queue = new DeadlineQueue<Item>((i) => expired.push({item: i, at: Date.now()}));
  const start = Date.now();
  const items = Array.from({length: 400}, (_, n) => item(n, start + 5 + ((n * 7919) % 60)));
  for (const i of items) queue.add(i);
  // Deleted from anywhere in the heap: the first, the last and every third.
  const deleted = new Set<Item>([items[0], items[399], ...items.filter((_, n) => n % 3 === 1)]);
  for (const i of deleted) queue.delete(i);
  queue.delete(items[0]); // twice: a no-op
  const kept = items.filter((i) => !deleted.has(i));
  t.is(queue.size, kept.length);
  while (expired.length < kept.length) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 30));
  t.is(expired.length, kept.length, 'each kept item expires exactly once');
  t.false(
    expired.some((e) => deleted.has(e.item)),
    'no deleted item expires',
  );
  for (let k = 1; k < expired.length; k++)
    t.true(expired[k - 1].item.deadline <= expired[k].item.deadline, 'in deadline order');
  t.true(
    expired.every((e) => e.at >= e.item.deadline),
    'none before its deadline',
  );
  t.is(queue.size, 0);
  t.true(
    expired.every((e) => e.item.heapIndex === -1),
    'out of the queue when expired',
  );
});

test('an earlier deadline added later re-arms the timer for it', async (t) => {
  const expired: number[] = [];
  const queue = new DeadlineQueue<Item>((i) => expired.push(i.name));
  queue.add(item(1, Date.now() + 10_000));
  queue.add(item(2, Date.now() + 5));
  await new Promise((r) => setTimeout(r, 60));
  t.deepEqual(expired, [2]);
  queue.close();
});

test('an empty queue leaves no timer behind, so it never holds the process open', (t) => {
  const before = timers();
  const queue = new DeadlineQueue<Item>(() => t.fail('nothing should expire'));
  const a = item(1, Date.now() + 60_000);
  const b = item(2, Date.now() + 30_000);
  queue.add(a);
  queue.add(b);
  t.is(timers(), before + 1, 'one timer for all');
  queue.delete(b);
  queue.delete(a);
  t.is(timers(), before);
});

test('with a clock of its own, an item expires when that clock says so', async (t) => {
  let now = 1_000;
  const expired: number[] = [];
  const queue = new DeadlineQueue<Item>(
    (i) => expired.push(i.name),
    () => now,
  );
  queue.add(item(1, 1_000 + 5));
  // The timer fires after 5 ms of real time, but the injected clock has not moved: nothing yet.
  await new Promise((r) => setTimeout(r, 30));
  t.deepEqual(expired, []);
  now = 1_010;
  queue.add(item(2, 1_000)); // already due: re-arms at once
  await new Promise((r) => setTimeout(r, 30));
  t.deepEqual(expired, [2, 1]);
});
