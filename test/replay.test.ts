// The replay guard (src/cluster/replay.ts) with a clock passed in: freshness, one window per
// sender name, sequence numbers tied to time, a bounded table that never locks a sender out.

import test from 'ava';
import {ReplayGuard} from '../src/cluster/replay.ts';
import type {Envelope} from '../src/cluster/replay.ts';

const limits = {freshnessMs: 1000, window: 64, maxSenders: 3, seqPerMs: 10, seqSlack: 1000};

/** A frame of `sender` in start `boot` (which started at `started`), signed at `ts`. */
const frame = (sender: string, seq: number, ts = 0, boot = 'b', started = 0): Envelope => ({
  sender,
  boot,
  started,
  seq,
  ts,
});

test('replay guard: each sequence number passes once, in any order within the window', (t) => {
  const guard = new ReplayGuard(limits);
  const check = (seq: number) => guard.check(frame('gw1', seq), 0);
  t.is(check(5), undefined);
  t.is(check(3), undefined, 'overtaken by 5, still new');
  t.is(check(3), 'replayed');
  t.is(check(5), 'replayed');
  t.is(check(200), undefined, 'a jump past the window');
  t.is(check(5), 'replayed', 'too far behind the newest to tell: refused');
  t.is(check(200 - 63), undefined, 'the oldest number the window still knows');
  t.is(check(200 - 63), 'replayed');
  t.is(check(201), undefined);
  // A later start of the same node counts from 1 again.
  t.is(guard.check(frame('gw1', 1, 0, 'b2', 0), 0), undefined);
});

test('replay guard: a window moved by whole laps forgets nothing it should remember', (t) => {
  const guard = new ReplayGuard(limits);
  for (let seq = 1; seq <= 500; seq += 3) t.is(guard.check(frame('h', seq), 0), undefined);
  for (let seq = 500 - 60; seq <= 500; seq++)
    t.is(guard.check(frame('h', seq), 0), (seq - 1) % 3 === 0 ? 'replayed' : undefined, String(seq));
});

test('replay guard: frames outside the freshness window are stale, either way', (t) => {
  const guard = new ReplayGuard(limits);
  t.is(guard.check(frame('h', 1, 10_000 - 1001), 10_000), 'stale');
  t.is(guard.check(frame('h', 2, 10_000 + 1001), 10_000), 'stale');
  t.is(guard.check(frame('h', 3, 10_000 - 999), 10_000), undefined);
});

test('attack: a seq of 2^53-1 (or any seq ahead of the sender’s clock) is refused, and the real sender goes on', (t) => {
  const guard = new ReplayGuard(limits);
  t.is(guard.check(frame('h', 10, 100), 100), undefined);
  t.is(guard.check(frame('h', Number.MAX_SAFE_INTEGER, 100), 100), 'seq_ahead');
  // At 100 ms since its start a sender may be at most 100 × 10 + 1000 = 2000.
  t.is(guard.check(frame('h', 2001, 100), 100), 'seq_ahead');
  t.is(guard.check(frame('h', 11, 101), 101), undefined, 'the real sender is not locked out');
});

test('attack: the furthest a key holder can push a sender’s seq locks it out for at most freshness + slack, never for good', (t) => {
  const guard = new ReplayGuard(limits);
  // The real sender signs at least seqPerMs per ms since its start (signing.ts).
  const real = (now: number) => guard.check(frame('h', now * limits.seqPerMs, now), now);
  t.is(real(100), undefined);
  // The forger signs as far ahead as is accepted: ts one freshness ahead, seq at the bound.
  const forgedTs = 100 + limits.freshnessMs;
  t.is(guard.check(frame('h', forgedTs * limits.seqPerMs + limits.seqSlack, forgedTs), 100), undefined);
  const refusedUntil = forgedTs + limits.seqSlack / limits.seqPerMs;
  t.is(real(200), 'replayed', 'locked out for now');
  t.is(real(refusedUntil), 'replayed');
  t.is(real(refusedUntil + 1), undefined, `heard again after ${refusedUntil} ms`);
});

test('attack: a key holder cycling starts and names fills no table: a real node that restarts is never refused, and an earlier start never comes back', (t) => {
  const guard = new ReplayGuard(limits);
  t.is(guard.check(frame('real', 1, 0, 'b1', 0), 0), undefined);
  // 2,000 forged starts of one name, then 2,000 forged names, each accepted once.
  for (let i = 1; i <= 2000; i++) guard.check(frame('evil', 1, 0, `e${String(i).padStart(5, '0')}`, 0), 0);
  for (let i = 1; i <= 2000; i++) guard.check(frame(`evil${i}`, 1), 0);
  t.is(guard.size, limits.maxSenders, 'bounded');
  // The real node restarts (a later start): heard at once, and its next frames too.
  t.is(guard.check(frame('real', 1, 50, 'b2', 50), 50), undefined);
  t.is(guard.check(frame('real', 2, 50, 'b2', 50), 50), undefined);
  t.is(guard.check(frame('real', 2, 50, 'b2', 50), 50), 'replayed');
  // Its earlier start, replayed: refused while the name is remembered.
  t.is(guard.check(frame('real', 7, 60, 'b1', 0), 60), 'old_boot');
  // Equal start times are ordered by boot id: one of them wins for good.
  t.is(guard.check(frame('tie', 1, 0, 'b', 0), 0), undefined);
  t.is(guard.check(frame('tie', 1, 0, 'c', 0), 0), undefined);
  t.is(guard.check(frame('tie', 2, 0, 'b', 0), 0), 'old_boot');
});
