// The gateway's member table driven by heartbeats and a clock passed in: no NATS, no sleeping.

import test from 'ava';
import {Membership} from '../src/cluster/membership.ts';
import type {Member, MembershipLimits} from '../src/cluster/membership.ts';

const limits: MembershipLimits = {
  timeoutMs: 1500,
  maxMembers: 16,
  joinsPerSecond: 2,
  joinBurst: 3,
  rememberMs: 60_000,
  restartMs: 100,
  backAfterMs: 300,
};

/** Boots in these tests start in the order of their names: b1 before b2 before b3. */
const startOf = (boot: string) => Number(boot.replace(/\D/g, '') || 0);

/** A heartbeat of `host` in start `boot`. */
const beat = (membership: Membership, host: string, boot: string, threads: number, leaving: boolean, now: number) =>
  membership.heartbeat({host, boot, started: startOf(boot), threads, leaving}, now);

function table(overrides: Partial<MembershipLimits> = {}) {
  const events: string[] = [];
  const indexes = (members: readonly Member[]) => members.map((m) => m.index).join(',');
  const membership = new Membership(
    {...limits, ...overrides},
    {
      joined: (host, m) => events.push(`joined ${host} ${indexes(m)}`),
      leaving: (host, m) => events.push(`leaving ${host} ${indexes(m)}`),
      back: (host, m) => events.push(`back ${host} ${indexes(m)}`),
      gone: (host, m, silentMs, left) =>
        events.push(`gone ${host} ${indexes(m)} ${silentMs ?? 'restarted'}${left ? ' left' : ''}`),
    },
    0,
  );
  return {membership, events};
}

test('a host joins with one member per thread; keys are placed only on members taking new keys', (t) => {
  const {membership, events} = table();
  t.false(membership.available);
  t.is(beat(membership, 'h1', 'b1', 2, false, 0), undefined);
  t.is(beat(membership, 'h1', 'b1', 2, false, 400), undefined, 'a second beat changes nothing');
  t.deepEqual(events, ['joined h1 0,1']);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
  t.like(membership.find('h1', 'b1', 1), {index: 1, name: 'h1/1', thread: 1});
  t.is(membership.find('h1', 'other-boot', 1), undefined, 'another start of h1 is not a member');
  t.is(membership.find('h1', 'b1', 2), undefined, 'a thread it did not announce');
  const placed = new Set(Array.from({length: 50}, (_, i) => membership.place(`t\nm${i}`)));
  t.deepEqual([...placed].sort(), [0, 1]);
});

test('leaving is a state a host leaves by heartbeating again (a stray leaving beat cannot take it out for good)', (t) => {
  const {membership, events} = table();
  beat(membership, 'h1', 'b1', 1, false, 0);
  beat(membership, 'h2', 'b2', 1, false, 0);
  beat(membership, 'h1', 'b1', 1, true, 100);
  t.deepEqual(membership.counts, {live: 1, leaving: 1});
  t.true(
    Array.from({length: 20}, (_, i) => membership.place(`k${i}`)).every((index) => index === 1),
    'no new key for the leaving host',
  );
  beat(membership, 'h1', 'b1', 1, false, 400);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
  t.deepEqual(events, ['joined h1 0', 'joined h2 1', 'leaving h1 0', 'back h1 0']);
  t.deepEqual([...new Set(Array.from({length: 40}, (_, i) => membership.place(`k${i}`)))].sort(), [0, 1]);
  // A host we never had saying it leaves is nothing to act on.
  t.is(beat(membership, 'h3', 'b3', 1, true, 500), undefined);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
});

test('a silent host is gone after the timeout; a restarted one (a later start) replaces its old members', (t) => {
  const {membership, events} = table();
  beat(membership, 'h1', 'b1', 2, false, 0);
  beat(membership, 'h2', 'b2', 1, false, 0);
  membership.sweep(1500);
  t.is(events.length, 2, 'not yet');
  beat(membership, 'h2', 'b2', 1, false, 1000);
  membership.sweep(1501);
  t.deepEqual(events.slice(2), ['gone h1 0,1 1501']);
  beat(membership, 'h2', 'b3', 1, false, 1600);
  t.is(beat(membership, 'h2', 'b3', 3, false, 1650), 'thread_change', 'threads change only with a new start');
  t.is(beat(membership, 'h2', 'b4', 3, false, 1700), undefined);
  t.deepEqual(
    events.slice(3),
    ['gone h2 2 restarted', 'joined h2 3', 'gone h2 3 restarted', 'joined h2 4,5,6'],
    'indexes are never reused',
  );
  t.is(membership.member(2), undefined);
  t.like(membership.member(6), {name: 'h2/2', boot: 'b4'});
});

test('the member table and the join rate are bounded: a flood of new hosts is refused, then joins resume', (t) => {
  const {membership, events} = table();
  const refused: (string | undefined)[] = [];
  for (let i = 0; i < 20; i++) refused.push(beat(membership, `fake${i}`, 'b', 1, false, 0));
  t.is(refused.filter((r) => r === undefined).length, 3, 'the burst');
  t.true(refused.slice(3).every((r) => r === 'join_rate'));
  t.is(beat(membership, 'real', 'b', 1, false, 499), 'join_rate');
  t.is(beat(membership, 'real', 'b', 1, false, 500), undefined, 'the next beat, after a token came back');
  t.is(events.length, 4, 'one event per host that joined, none per refused beat');
  const big = table({joinBurst: 100});
  t.is(beat(big.membership, 'h1', 'b', 10, false, 0), undefined);
  t.is(beat(big.membership, 'h2', 'b', 7, false, 0), 'member_limit', '17 members > 16');
  t.is(beat(big.membership, 'h2', 'b', 6, false, 0), undefined);
  t.deepEqual(big.membership.counts, {live: 16, leaving: 0});
});

/** Which member names `keys` are placed on. */
const owners = (membership: Membership, keys: readonly string[]) =>
  keys.map((k) => membership.member(membership.place(k) ?? -1)?.name);

test('attack: a key holder announcing a later start of a real host with 256 threads moves no key to another host, and the real host takes back exactly its own keys', (t) => {
  const {membership, events} = table({maxMembers: 1024, joinBurst: 10});
  beat(membership, 'h1', 'b1', 2, false, 0);
  beat(membership, 'h2', 'b2', 2, false, 0);
  const keys = Array.from({length: 400}, (_, i) => `agent\nm${i}`);
  const before = owners(membership, keys);
  t.deepEqual([...new Set(before)].sort(), ['h1/0', 'h1/1', 'h2/0', 'h2/1']);
  // The forged start of h1: 256 threads. Keys of h2 stay on h2; only h1's names can gain keys.
  t.is(beat(membership, 'h1', 'b9', 256, false, 100), undefined);
  const during = owners(membership, keys);
  for (const [i, owner] of during.entries())
    if (before[i]?.startsWith('h2/')) t.is(owner, before[i], `key ${i} stays on h2`);
    else t.regex(owner ?? '', /^h1\//, `key ${i} stays on a name of h1`);
  // The forger tries to grow or shrink its start without a new boot: refused.
  t.is(beat(membership, 'h1', 'b9', 128, false, 200), 'thread_change');
  // The real host restarts (a later start, its own 2 threads): the same names, the same keys as before.
  t.is(beat(membership, 'h1', 'b10', 2, false, 300), undefined);
  t.deepEqual(owners(membership, keys), before, 'every key back on the member it had');
  t.deepEqual(events.slice(-2), [
    `gone h1 ${Array.from({length: 256}, (_, i) => i + 4).join(',')} restarted`,
    'joined h1 260,261',
  ]);
  // The forged start (earlier) never comes back, nor does the real host's first start.
  t.is(beat(membership, 'h1', 'b9', 256, false, 400), 'old_boot');
  t.is(beat(membership, 'h1', 'b1', 2, false, 400), 'old_boot');
  t.deepEqual(membership.counts, {live: 4, leaving: 0});
});

test("attack: a recorded heartbeat of a host's previous start, replayed to a fresh gateway, is replaced the moment the new start is heard, and what was placed on it fails at once", (t) => {
  const {membership, events} = table();
  // The fresh gateway hears the replay first (still within the freshness window) and places a key.
  t.is(beat(membership, 'h1', 'b1', 2, false, 0), undefined);
  const placed = membership.place('agent\nm');
  t.not(placed, undefined);
  // The live start's heartbeat, 400 ms later: the old members are gone now ("restarted"), so the
  // coordinator fails what it sent them with worker_failed instead of waiting for the deadline.
  t.is(beat(membership, 'h1', 'b2', 2, false, 400), undefined);
  t.deepEqual(events, ['joined h1 0,1', 'gone h1 0,1 restarted', 'joined h1 2,3']);
  t.is(membership.member(placed ?? -1), undefined, 'the member the key was on is gone');
  t.is(membership.member(membership.place('agent\nm') ?? -1)?.name, `h1/${placed}`, 'the same name, its new start');
  // More replays of the old start: refused, nothing changes.
  for (let now = 500; now < 10_000; now += 400) t.is(beat(membership, 'h1', 'b1', 2, false, now), 'old_boot');
  t.is(events.length, 3);
  // Even after the new start went silent and is gone, the old one is refused while remembered.
  membership.sweep(20_000);
  t.is(beat(membership, 'h1', 'b1', 2, false, 20_001), 'old_boot');
  t.is(beat(membership, 'h1', 'b3', 2, false, 20_002), undefined, 'a later start joins');
});

test('the starts of hosts that are gone are forgotten after rememberMs', (t) => {
  const {membership} = table({rememberMs: 5000});
  beat(membership, 'h1', 'b2', 1, false, 0);
  membership.sweep(2000);
  t.is(beat(membership, 'h1', 'b1', 1, false, 2001), 'old_boot');
  membership.sweep(7001);
  t.is(beat(membership, 'h1', 'b1', 1, false, 7002), undefined);
});

test('a host that said it was leaving and then went silent is gone as one that left (the gateway logs it at info)', (t) => {
  const {membership, events} = table();
  beat(membership, 'h1', 'b1', 2, false, 0);
  beat(membership, 'h2', 'b2', 1, false, 0);
  beat(membership, 'h1', 'b1', 2, true, 100);
  beat(membership, 'h2', 'b2', 1, false, 1000);
  membership.sweep(1601);
  t.deepEqual(events, ['joined h1 0,1', 'joined h2 2', 'leaving h1 0,1', 'gone h1 0,1 1501 left']);
});

test('attack: one host restarting its name every ms never spends the shared join bucket: other hosts (and a new gateway) still join, and a refused restart keeps the live entry', (t) => {
  // a1b-joinrate / a1c-newgw: host1's credential re-started host1 every ms and kept host2 out for 22 s.
  for (const fresh of [false, true]) {
    const {membership, events} = table({restartMs: 1000});
    // A new gateway (fresh) hears the flood before it ever heard host2.
    let admitted = 0;
    let live = '';
    if (!fresh) t.is(beat(membership, 'host2', 'b1', 1, false, 0), undefined);
    else
      for (let i = 0; i < 30; i++)
        if (beat(membership, 'host1', `b${900 + i}`, 1, false, 0) === undefined) {
          admitted++;
          live = `b${900 + i}`;
        }
    let evicted = 0;
    for (let now = 0; now < 5000; now++) {
      const boot = `b${1000 + now}`;
      const refused = beat(membership, 'host1', boot, 1, false, now);
      if (refused === undefined) {
        admitted++;
        live = boot;
      } else t.is(refused, 'restart_rate');
      if (now % 400 === 0) beat(membership, 'host2', 'b1', 1, false, now);
      // host1's live start stays a member: a refused start never evicts it.
      if (!membership.find('host1', live, 0)) evicted++;
    }
    t.is(evicted, 0);
    t.is(admitted, 5, 'one start of host1 a second');
    t.truthy(membership.find('host2', 'b1', 0), 'host2 joined and stayed');
    t.is(events.filter((e) => e.startsWith('joined host2')).length, 1);
    // New names still have the whole burst (host1's restarts took nothing from it).
    t.is(beat(membership, 'host3', 'b1', 1, false, 5000), undefined);
    t.is(beat(membership, 'host4', 'b1', 1, false, 5000), undefined);
  }
});

test('a refused restart (over the table) leaves the live start in place; a host gone and back is a known name', (t) => {
  const {membership, events} = table({restartMs: 1000, maxMembers: 4});
  beat(membership, 'h1', 'b1', 2, false, 0);
  beat(membership, 'h2', 'b1', 2, false, 0);
  t.is(membership.refusesStart('h1', 2, 500), 'restart_rate', 'asked before the wire takes a new start');
  t.is(membership.refusesStart('h1', 3, 2000), 'member_limit');
  t.is(membership.refusesStart('new', 1, 0), undefined, 'a new name: the join bucket decides, at its heartbeat');
  t.is(beat(membership, 'h1', 'b2', 3, false, 2000), 'member_limit');
  t.truthy(membership.find('h1', 'b1', 1), 'still the live start');
  t.is(beat(membership, 'h1', 'b2', 2, false, 2000), undefined);
  membership.sweep(4000);
  t.is(events.filter((e) => e.startsWith('gone')).length, 3);
  // Gone and back: its own rate, not the shared bucket (spent here by new names on purpose).
  for (let i = 0; i < 3; i++) t.is(beat(membership, `new${i}`, 'b1', 1, false, 4000), undefined);
  t.is(beat(membership, 'other', 'b1', 1, false, 4000), 'join_rate');
  t.is(beat(membership, 'h2', 'b1', 1, false, 4000), undefined, 'h2 comes back with no token left');
});

test('attack: a host toggling leaving every beat stays leaving after its first flap (three events, not one per beat), and takes new keys again after backAfterMs of live beats', (t) => {
  // a8-toggle: each back re-placed every idle key and logged a line.
  const {membership, events} = table({backAfterMs: 2000});
  beat(membership, 'h1', 'b1', 1, false, 0);
  beat(membership, 'h2', 'b1', 1, false, 0);
  for (let now = 1; now < 3000; now++) beat(membership, 'h1', 'b1', 1, now % 2 === 1, now);
  t.deepEqual(events, ['joined h1 0', 'joined h2 1', 'leaving h1 0', 'back h1 0', 'leaving h1 0']);
  t.deepEqual(membership.counts, {live: 1, leaving: 1});
  beat(membership, 'h1', 'b1', 1, false, 4000);
  t.deepEqual(membership.counts, {live: 1, leaving: 1}, 'not yet: its last leaving beat was at 2999');
  beat(membership, 'h1', 'b1', 1, false, 4999);
  t.deepEqual(events.slice(5), ['back h1 0']);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
});
