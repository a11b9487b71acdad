// The gateway's membership log lines, at a bounded rate per host (src/cluster/membership-log.ts).

import test from 'ava';
import pino from 'pino';
import {MembershipLog} from '../src/cluster/membership-log.ts';

function recorder() {
  const lines: {host?: string; msg: string; events?: Record<string, number>}[] = [];
  const log = pino({level: 'info'}, {write: (line: string) => lines.push(JSON.parse(line))});
  return {log, lines};
}

test('attack H4: a host toggling leaving 10,000 times costs its burst of lines now and one summary with its counts; another host’s line is logged at once', async (t) => {
  // a8-toggle: 852 lines a second before.
  const {log, lines} = recorder();
  let now = 0;
  const membership = new MembershipLog(log, {intervalMs: 50, burst: 2, now: () => now});
  t.teardown(() => membership.close());
  for (let i = 0; i < 10_000; i++) {
    const event = i % 2 ? 'back' : 'leaving';
    membership.line('info', 'h1', event, {threads: [0]}, `actor host ${event}`);
  }
  membership.line('info', 'h2', 'joined', {threads: [1]}, 'actor host joined');
  t.deepEqual(
    lines.map((l) => `${l.host} ${l.msg}`),
    ['h1 actor host leaving', 'h1 actor host back', 'h2 actor host joined'],
  );
  now = 50;
  for (let i = 0; i < 100 && lines.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(lines.length, 4);
  t.like(lines[3], {host: 'h1', events: {back: 4999, leaving: 4999}});
  // Quiet for an interval: its next line is logged at once again.
  now = 200;
  membership.line('warn', 'h1', 'gone', {}, 'actor host gone');
  t.is(lines.at(-1)?.msg, 'actor host gone');
});
