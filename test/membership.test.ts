// The gateway's member table driven by heartbeats and a clock passed in: no NATS, no sleeping.

import test from 'ava';
import {Membership} from '../src/cluster/membership.ts';
import type {Member, MembershipLimits} from '../src/cluster/membership.ts';

const limits: MembershipLimits = {timeoutMs: 1500, maxMembers: 16, joinsPerSecond: 2, joinBurst: 3};

function table(overrides: Partial<MembershipLimits> = {}) {
  const events: string[] = [];
  const indexes = (members: readonly Member[]) => members.map((m) => m.index).join(',');
  const membership = new Membership(
    {...limits, ...overrides},
    {
      joined: (host, m) => events.push(`joined ${host} ${indexes(m)}`),
      leaving: (host, m) => events.push(`leaving ${host} ${indexes(m)}`),
      back: (host, m) => events.push(`back ${host} ${indexes(m)}`),
      gone: (host, m, silentMs) => events.push(`gone ${host} ${indexes(m)} ${silentMs ?? 'restarted'}`),
    },
    0,
  );
  return {membership, events};
}

test('a host joins with one member per thread; keys are placed only on members taking new keys', (t) => {
  const {membership, events} = table();
  t.false(membership.available);
  t.is(membership.heartbeat('h1', 'b1', 2, false, 0), undefined);
  t.is(membership.heartbeat('h1', 'b1', 2, false, 400), undefined, 'a second beat changes nothing');
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
  membership.heartbeat('h1', 'b1', 1, false, 0);
  membership.heartbeat('h2', 'b2', 1, false, 0);
  membership.heartbeat('h1', 'b1', 1, true, 100);
  t.deepEqual(membership.counts, {live: 1, leaving: 1});
  t.true(
    Array.from({length: 20}, (_, i) => membership.place(`k${i}`)).every((index) => index === 1),
    'no new key for the leaving host',
  );
  membership.heartbeat('h1', 'b1', 1, false, 400);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
  t.deepEqual(events, ['joined h1 0', 'joined h2 1', 'leaving h1 0', 'back h1 0']);
  t.deepEqual([...new Set(Array.from({length: 40}, (_, i) => membership.place(`k${i}`)))].sort(), [0, 1]);
  // A host we never had saying it leaves is nothing to act on.
  t.is(membership.heartbeat('h3', 'b3', 1, true, 500), undefined);
  t.deepEqual(membership.counts, {live: 2, leaving: 0});
});

test('a silent host is gone after the timeout; a restarted one (new boot or thread count) replaces its old members', (t) => {
  const {membership, events} = table();
  membership.heartbeat('h1', 'b1', 2, false, 0);
  membership.heartbeat('h2', 'b2', 1, false, 0);
  membership.sweep(1500);
  t.is(events.length, 2, 'not yet');
  membership.heartbeat('h2', 'b2', 1, false, 1000);
  membership.sweep(1501);
  t.deepEqual(events.slice(2), ['gone h1 0,1 1501']);
  membership.heartbeat('h2', 'b3', 1, false, 1600);
  membership.heartbeat('h2', 'b3', 3, false, 1700);
  t.deepEqual(
    events.slice(3),
    ['gone h2 2 restarted', 'joined h2 3', 'gone h2 3 restarted', 'joined h2 4,5,6'],
    'indexes are never reused',
  );
  t.is(membership.member(2), undefined);
  t.like(membership.member(6), {name: 'h2/2', boot: 'b3'});
});

test('the member table and the join rate are bounded: a flood of new hosts is refused, then joins resume', (t) => {
  const {membership, events} = table();
  const refused: (string | undefined)[] = [];
  for (let i = 0; i < 20; i++) refused.push(membership.heartbeat(`fake${i}`, 'b', 1, false, 0));
  t.is(refused.filter((r) => r === undefined).length, 3, 'the burst');
  t.true(refused.slice(3).every((r) => r === 'join_rate'));
  t.is(membership.heartbeat('real', 'b', 1, false, 499), 'join_rate');
  t.is(membership.heartbeat('real', 'b', 1, false, 500), undefined, 'the next beat, after a token came back');
  t.is(events.length, 4, 'one event per host that joined, none per refused beat');
  const big = table({joinBurst: 100});
  t.is(big.membership.heartbeat('h1', 'b', 10, false, 0), undefined);
  t.is(big.membership.heartbeat('h2', 'b', 7, false, 0), 'member_limit', '17 members > 16');
  t.is(big.membership.heartbeat('h2', 'b', 6, false, 0), undefined);
  t.deepEqual(big.membership.counts, {live: 16, leaving: 0});
});
