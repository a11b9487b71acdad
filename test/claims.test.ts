// The claims of clients refused within their fair part: what they add up to per limit, who is
// ahead of whom, replaced, dropped, expired and bounded (src/coordinator/claims.ts).

import test from 'ava';
import {ClaimTable} from '../src/coordinator/claims.ts';
import type {ClaimsOn} from '../src/coordinator/claims.ts';
import type {ClientState} from '../src/coordinator/clients.ts';
import {waitFor} from './helpers/wait-for.ts';

const rows = (...entries: [string, number][]) => new Map(entries);
/** A client holding `perKey` agents per key. */
const client = (id: string, ...held: [string, number][]): ClientState => ({
  id,
  number: 0,
  live: held.reduce((sum, [, n]) => sum + n, 0),
  perKey: new Map(held),
});
const sum = ({clients, amount}: ClaimsOn) => ({clients, amount});
const empty = {clients: 0, amount: 0};
const later = () => Date.now() + 60_000;
/** What is held of each limit when a claim is made: nothing (its reservation is tested below). */
const nothingHeld = {live: 0, busy: 0, get: () => undefined};

test('claims add up per key, on the total and on the mailboxes; a new refusal replaces its client claim; admitted, it is dropped', (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  claims.claim(client('a'), rows(['k1', 2], ['k2', 1]), later(), nothingHeld);
  claims.claim(client('b', ['k1', 5]), rows(['k1', 3]), later(), nothingHeld);
  t.deepEqual(sum(claims.onKey('k1')), {clients: 2, amount: 5});
  t.deepEqual(sum(claims.onKey('k2')), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.total), {clients: 2, amount: 6});
  t.deepEqual(sum(claims.mailboxes), {clients: 1, amount: 2}, 'b holds k1 already: only a claims mailboxes');
  claims.claim(client('a'), rows(['k3', 4]), later(), nothingHeld);
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
  const now = Date.now();
  claims.claim(client('small'), rows(['k', 1]), later(), nothingHeld);
  claims.claim(client('big'), rows(['k', 4]), later(), nothingHeld);
  claims.claim(client('holder', ['k', 2]), rows(['k', 2]), later(), nothingHeld);
  const onKey = claims.onKey('k');
  t.is(onKey.queue(1, Infinity, now).wants, 1, 'a newcomer asking 1 gives way to the claim of 1 only');
  t.is(onKey.queue(4, Infinity, now).wants, 7, 'asking 4, to all three (levels 1, 4 and 2 + 2)');
  // "small" asks again: judged in its place, first in line, nothing ahead of it.
  const place = claims.drop('small') as number;
  t.is(claims.onKey('k').queue(1, place, now).wants, 0);
  claims.claim(client('small'), rows(['k', 1]), later(), nothingHeld, place);
  claims.claim(client('late'), rows(['k', 1]), later(), nothingHeld);
  const late = claims.drop('late') as number;
  t.is(claims.onKey('k').queue(1, late, now).wants, 1, 'the late one gives way to the earlier claim at its level');
});

test('a claim expires at its deadline and every tally goes back', async (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  claims.claim(client('soon'), rows(['k', 2]), Date.now() + 20, nothingHeld);
  claims.claim(client('later', ['k', 1]), rows(['k', 1]), later(), nothingHeld);
  await waitFor('the first claim expired', () => claims.size === 1);
  t.deepEqual(sum(claims.onKey('k')), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.total), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.mailboxes), empty);
});

test('at most maxClaims clients: a flood of new claimants pushes out only a claim that would be served after them, never the earlier small ones; the tallies stay exact', (t) => {
  const claims = new ClaimTable(3);
  t.teardown(() => claims.close());
  const now = Date.now();
  t.true(claims.claim(client('n1'), rows(['k', 1]), now + 1000, nothingHeld));
  t.true(claims.claim(client('big'), rows(['k', 5]), now + 9000, nothingHeld));
  t.true(claims.claim(client('n2'), rows(['k', 1]), now + 5000, nothingHeld));
  let kept = 0;
  for (let i = 0; i < 1000; i++)
    if (claims.claim(client(`flood-${i}`), rows([`k${i}`, 1]), now + 2000 + i, nothingHeld)) kept++;
  t.is(
    kept,
    1,
    'the first flood claim (1 agent) goes before the big claim (5), then the table is full of earlier ones',
  );
  t.is(claims.size, 3);
  t.deepEqual(sum(claims.onKey('k')), {clients: 2, amount: 2}, 'n1 and n2 stay; big gave way');
  t.deepEqual(sum(claims.onKey('k0')), {clients: 1, amount: 1});
  t.deepEqual(sum(claims.onKey('k1')), empty);
  t.deepEqual(sum(claims.total), {clients: 3, amount: 3});
  t.deepEqual(sum(claims.mailboxes), {clients: 3, amount: 3});
  t.is(typeof claims.drop('n1'), 'number');
  t.true(
    claims.claim(client('flood-late'), rows(['k9', 1]), now + 3000, nothingHeld),
    'a place freed: the next one is kept',
  );
});

test('what a claim adds to the max-min demands: its level beyond what its client holds now, as that falls', (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  const holder = client('holder', ['k', 2]);
  claims.claim(holder, rows(['k', 3]), later(), nothingHeld);
  claims.claim(client('fresh'), rows(['k', 1]), later(), nothingHeld);
  t.is(claims.onKey('k').sumMin(10), 3 + 1, 'holder would hold 5 (holds 2), fresh 1');
  t.is(claims.onKey('k').sumMin(2), 0 + 1, 'capped at 2: the holder adds nothing beyond its 2');
  holder.perKey.set('k', 1);
  holder.live = 1;
  t.is(claims.onKey('k').sumMin(10), 4 + 1, 'its agents finishing, the claim stands for more beyond them');
  t.is(claims.total.sumMin(10), 4 + 1);
});

test('what claims stake: at most what was held of the limit when the latest-held of them was made; a mailbox claim counts only keys without a busy mailbox now; until when the last lapses', (t) => {
  const claims = new ClaimTable();
  t.teardown(() => claims.close());
  const live = new Map<string, number>([['busy', 3]]);
  const usage = {live: 6, busy: 2, get: (key: string) => (live.has(key) ? {live: live.get(key) ?? 0} : undefined)};
  const now = Date.now();
  claims.claim(client('a'), rows(['x', 2], ['busy', 1]), now + 5000, usage);
  usage.live = 0;
  usage.busy = 0;
  claims.claim(client('b'), rows(['y', 1]), now + 9000, usage);
  t.deepEqual(claims.total.queue(Infinity, Infinity, now), {wants: 4, heldThen: 6, until: now + 9000});
  // a claimed mailboxes for x and busy, b for y; busy has its mailbox (agents in flight).
  t.deepEqual(claims.mailboxes.queue(Infinity, Infinity, now), {wants: 2, heldThen: 2, until: now + 9000});
  t.deepEqual(claims.onKey('busy').queue(Infinity, Infinity, now), {wants: 1, heldThen: 3, until: now + 5000});
  // b's claim was made with nothing held: it stakes nothing, whatever it wants.
  t.deepEqual(claims.total.queue(1, Infinity, now), {wants: 1, heldThen: 0, until: now + 9000});
  // At its deadline a claim stops counting, whether or not its timer has run yet.
  t.deepEqual(claims.total.queue(Infinity, Infinity, now + 5000), {wants: 1, heldThen: 0, until: now + 9000});
  // x opens (another client's agent in flight): a's claim wants no mailbox for it any more.
  live.set('x', 1);
  t.is(claims.mailboxes.queue(Infinity, Infinity, now).wants, 1);
  t.is(claims.mailboxes.amount, 3, 'what was claimed stays counted as claimed');
  t.is(typeof claims.drop('a'), 'number');
  t.deepEqual(claims.mailboxes.queue(Infinity, Infinity, now), {wants: 1, heldThen: 0, until: now + 9000});
});
