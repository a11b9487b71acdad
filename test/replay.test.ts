import test from 'ava';
import {ReplayGuard} from '../src/cluster/replay.ts';

const limits = {freshnessMs: 1000, window: 64, maxSenders: 3};

test('replay guard: each sequence number passes once, in any order within the window', (t) => {
  const guard = new ReplayGuard(limits);
  const check = (seq: number) => guard.check('gw1', 'b', seq, 0, 0);
  t.is(check(5), undefined);
  t.is(check(3), undefined, 'overtaken by 5, still new');
  t.is(check(3), 'replayed');
  t.is(check(5), 'replayed');
  t.is(check(200), undefined, 'a jump past the window');
  t.is(check(5), 'replayed', 'too far behind the newest to tell: refused');
  t.is(check(200 - 63), undefined, 'the oldest number the window still knows');
  t.is(check(200 - 63), 'replayed');
  t.is(check(201), undefined);
  // Another start of the same node counts from 1 again.
  t.is(guard.check('gw1', 'b2', 1, 0, 0), undefined);
});

test('replay guard: a window moved by whole laps forgets nothing it should remember', (t) => {
  const guard = new ReplayGuard(limits);
  for (let seq = 1; seq <= 500; seq += 3) t.is(guard.check('h', 'b', seq, 0, 0), undefined);
  for (let seq = 500 - 60; seq <= 500; seq++)
    t.is(guard.check('h', 'b', seq, 0, 0), (seq - 1) % 3 === 0 ? 'replayed' : undefined, String(seq));
});

test('replay guard: frames outside the freshness window are stale, either way', (t) => {
  const guard = new ReplayGuard(limits);
  t.is(guard.check('h', 'b', 1, 10_000 - 1001, 10_000), 'stale');
  t.is(guard.check('h', 'b', 2, 10_000 + 1001, 10_000), 'stale');
  t.is(guard.check('h', 'b', 3, 10_000 - 999, 10_000), undefined);
});

test('replay guard: bounded senders; one silent for twice the freshness window makes room', (t) => {
  const guard = new ReplayGuard(limits);
  guard.check('a', 'b', 1, 0, 0);
  guard.check('b', 'b', 1, 1500, 1500);
  guard.check('c', 'b', 1, 1500, 1500);
  t.is(guard.check('d', 'b', 1, 1900, 1900), 'too_many_senders', 'nobody is stale yet');
  t.is(guard.size, 3);
  t.is(guard.check('d', 'b', 1, 2001, 2001), undefined, 'a went silent 2 s ago: forgotten');
  t.is(guard.size, 3);
  // What `a` sent is stale now, so forgetting it let no replay through.
  t.is(guard.check('a', 'b', 1, 0, 2001), 'stale');
});
