// Batch reports a gateway takes from an actor host (src/cluster/reports.ts): only for keys sent to
// that member, only with fields in range, only so many per frame.

import test from 'ava';
import {acceptedReports, maxReportsPerFrame, PlacedKeys, reportInRange} from '../src/cluster/reports.ts';
import type {BatchReport} from '../src/protocol/messages.ts';

const report = (key: string, extra: Partial<BatchReport> = {}): BatchReport => ({
  key,
  size: 2,
  backendMs: 12,
  result: 'ok',
  waitsMs: [1, 2],
  windowMs: 5,
  ...extra,
});

test('attack: a host’s reports for keys placed elsewhere or never admitted are dropped; its own key’s report is kept', (t) => {
  const sent = new Set(['t\nmine']);
  const forged = Array.from({length: 40}, (_, i) => report(`t\nforged-${i}`));
  const {reports, dropped} = acceptedReports([...forged, report('t\nmine'), report('t\nother-member')], sent);
  t.deepEqual(
    reports.map((r) => r.key),
    ['t\nmine'],
  );
  t.is(dropped, 41);
  t.deepEqual(acceptedReports([report('t\nmine')], undefined), {reports: [], dropped: 1}, 'a member sent nothing');
});

test('attack: reports with fields out of range are dropped, each; a frame carries at most maxReportsPerFrame', (t) => {
  for (const bad of [
    {size: 0},
    {size: 1.5},
    {size: 1e9},
    {backendMs: -1},
    {backendMs: 1e300},
    {backendMs: Number.NaN},
    {windowMs: Number.POSITIVE_INFINITY},
    {waitsMs: [1, -5]},
    {waitsMs: [1, 2, 3]},
    {waitsMs: [Number.MAX_VALUE]},
  ])
    t.false(reportInRange(report('t\nm', bad)), JSON.stringify(bad));
  t.true(reportInRange(report('t\nm', {size: 100_000, waitsMs: [], backendMs: 3_600_000})));
  const many = Array.from({length: maxReportsPerFrame + 10}, () => report('t\nm'));
  const {reports, dropped} = acceptedReports(many, new Set(['t\nm']));
  t.is(reports.length, maxReportsPerFrame);
  t.is(dropped, 10);
});

test('attack M2: once a key moved to another member, the old member’s reports for it are dropped; the new member’s are kept', (t) => {
  const placed = new PlacedKeys(60_000);
  placed.sent('t\nk', 0, 0);
  t.is(acceptedReports([report('t\nk')], placed.of(0)).dropped, 0);
  // The key moves (its member left; the coordinator placed it on member 1).
  placed.sent('t\nk', 1, 10);
  t.deepEqual(acceptedReports([report('t\nk')], placed.of(0)), {reports: [], dropped: 1}, 'the old member');
  t.is(acceptedReports([report('t\nk')], placed.of(1)).reports.length, 1, 'the member it is on now');
});

test('attack M1: the gateway’s key table follows the keys in use: 10,000 distinct one-off keys are forgotten after idleMs; a gone member’s keys go with it', (t) => {
  // a2-keys: +0.3 KB per distinct key ever seen, never shrinking.
  const placed = new PlacedKeys(1000);
  for (let i = 0; i < 10_000; i++) placed.sent(`t\none-off-${i}`, i % 4, i / 100);
  t.is(placed.size, 10_000);
  placed.sent('t\nbusy', 2, 1500);
  placed.sweep(1099);
  t.is(placed.size, 10_000 - 9_901 + 1, 'those sent at 99 ms or before are forgotten');
  placed.sweep(1500);
  t.is(placed.size, 1, 'only the key sent within idleMs');
  t.true(placed.of(2)?.has('t\nbusy'));
  t.is(placed.of(0), undefined, 'no empty sets kept');
  placed.dropMember(2);
  t.is(placed.size, 0);
  t.is(placed.of(2), undefined);
});
