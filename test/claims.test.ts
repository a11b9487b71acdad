// The claims of clients refused within their fair part: what they add up to per limit, who is
// ahead of whom, replaced, dropped, expired and bounded (src/coordinator/claims.ts).

import test from 'ava';
import {setTimeout as sleep} from 'node:timers/promises';
import {ClaimTable} from '../src/coordinator/claims.ts';
import type {ClaimsOn} from '../src/coordinator/claims.ts';
import type {ClientState} from '../src/coordinator/clients.ts';

const rows = (...entries: [string, number][]) => new Map(entries);
/** A client holding `perKey` agents per key. */
const client = (id: string, ...held: [string, number][]): ClientState => ({
  id,
  live: held.reduce((sum, [, n]) => sum + n, 0),
  perKey: new Map(held),
});
const sum = ({clients, amount}: ClaimsOn) => ({clients, amount});
const empty = {clients: 0, amount: 0};
const later = () => Date.now() + 60_000;

test('claims add up per key, on the total and on the mailboxes; a new refusal replaces its client claim; admitted, it is dropped', (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  claims.claim(client('a'), rows(['k1', 2], ['k2', 1]), later());
  claims.claim(client('b', ['k1', 5]), rows(['k1', 3]), later());
  t.deepEqual(sum(claims.onKey('k1')), {clients: 2, amount: 5});
  t.deepEqual(sum(claims.onKey('k2')), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.total), {clients: 2, amount: 6});
  t.deepEqual(sum(claims.mailboxes), {clients: 1, amount: 2}, 'b holds k1 already: only a claims mailboxes');
  claims.claim(client('a'), rows(['k3', 4]), later());
  t.deepEqual(sum(claims.onKey('k1')), {clients: 1, amount: 3});
  t.deepEqual(sum(claims.onKey('k2')), empty);
  t.deepEqual(sum(claims.total), {clients: 2, amount: 7});
  t.deepEqual(sum(claims.mailboxes), {clients: 1, amount: 1});
  t.is(typeof claims.drop('a'), 'number');
  t.is(typeof claims.drop('b'), 'number');
  t.is(claims.drop('nobody'), undefined);
  t.is(claims.size, 0);
  t.deepEqual([claims.total, claims.mailboxes, claims.onKey('k1'), claims.onKey('k3')].map(sum), Array(4).fill(empty));
});

test('ahead of a client are the claims that would hold less, or as much and were made first; a claim asked again keeps its place', (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  claims.claim(client('small'), rows(['k', 1]), later());
  claims.claim(client('big'), rows(['k', 4]), later());
  claims.claim(client('holder', ['k', 2]), rows(['k', 2]), later());
  const onKey = claims.onKey('k');
  t.is(onKey.ahead(1, Infinity), 1, 'a newcomer asking 1 gives way to the claim of 1 only');
  t.is(onKey.ahead(4, Infinity), 7, 'asking 4, to all three (levels 1, 4 and 2 + 2)');
  // "small" asks again: judged in its place, first in line, nothing ahead of it.
  const place = claims.drop('small') as number;
  t.is(claims.onKey('k').ahead(1, place), 0);
  claims.claim(client('small'), rows(['k', 1]), later(), place);
  claims.claim(client('late'), rows(['k', 1]), later());
  const late = claims.drop('late') as number;
  t.is(claims.onKey('k').ahead(1, late), 1, 'the late one gives way to the earlier claim at its level');
});

test('a claim expires at its deadline and every tally goes back', async (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  claims.claim(client('soon'), rows(['k', 2]), Date.now() + 20);
  claims.claim(client('later', ['k', 1]), rows(['k', 1]), later());
  await sleep(60);
  t.is(claims.size, 1);
  t.deepEqual(sum(claims.onKey('k')), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.total), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.mailboxes), empty);
});

test('at most maxClaims clients: a flood of claimants pushes out the claim due first, and the tallies stay exact', (t) => {
  const claims = new ClaimTable(3);
  t.teardown(() => claims.close());
  const now = Date.now();
  claims.claim(client('first-due'), rows(['k', 5]), now + 1000);
  claims.claim(client('b', ['k', 1]), rows(['k', 1]), now + 5000);
  claims.claim(client('c', ['k', 1]), rows(['k', 1]), now + 6000);
  for (let i = 0; i < 1000; i++) claims.claim(client(`flood-${i}`), rows([`k${i}`, 1]), now + 2000 + i);
  t.is(claims.size, 3);
  t.deepEqual(
    sum(claims.onKey('k')),
    {clients: 2, amount: 2},
    'the later-due claims of b and c stay; the first-due went',
  );
  t.deepEqual(sum(claims.total), {clients: 3, amount: 3});
  t.deepEqual(sum(claims.mailboxes), {clients: 1, amount: 1});
});
