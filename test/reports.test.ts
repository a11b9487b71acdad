// Batch reports a gateway takes from an actor host (src/cluster/reports.ts): only for keys sent to
// that member, only with fields in range, only so many per frame.

import test from 'ava';
import {acceptedReports, maxReportsPerFrame, reportInRange} from '../src/cluster/reports.ts';
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
