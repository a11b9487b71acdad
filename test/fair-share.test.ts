// The fair share attacked, on the coordinator alone (helpers/fake-transport.ts): the mailbox
// limit held by one client, max-min over demands, clients grouped by address, floods of
// addresses. Normal clients beside every attack, every answer checked against the formula.

import test from 'ava';
import {clientGroup} from '../src/coordinator/clients.ts';
import {Demands} from '../src/coordinator/demands.ts';
import {defaultMaxClaims} from '../src/coordinator/claims.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {coordinatorAlone, reasonOf, ticketOf} from './helpers/fake-transport.ts';
import type {Asked} from './helpers/fake-transport.ts';
import {waitFor} from './helpers/wait-for.ts';

/** Checks an admitted request's outcomes against the formula. */
async function exact(t: import('ava').ExecutionContext, asked: Asked) {
  const outcomes = await ticketOf(asked).outcomes;
  t.deepEqual(
    outcomes.map((o) => ('prediction' in o ? o.prediction : o.error.code)),
    asked.agents.map((a) => predictRow(bias(a.model, a.agentType), a.vector)),
  );
}

/** The first `n` parts matching `where` (a predicate for answer()). */
function first(n: number, where: (key: string) => boolean = () => true) {
  let left = n;
  return (part: {key: string}) => left > 0 && where(part.key) && left-- > 0;
}

test('one client keeping every mailbox busy is held to its max-min share of them while others claim one: it is refused client_share for its own busy keys, they drain, and each claimant gets in', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 6});
  t.teardown(() => coordinator.close());
  const hog = [0, 1, 2, 3, 4, 5].map((i) => ask('addr:10.0.0.1', 1, `h${i}`));
  t.deepEqual(hog.map(reasonOf), Array(6).fill('admitted'), 'alone, it may open every mailbox');
  const n1 = ask('addr:10.0.0.2', 1, 'own1');
  const n2 = ask('addr:10.0.0.3', 1, 'own2');
  t.deepEqual([n1, n2].map(reasonOf), ['too_many_mailboxes', 'too_many_mailboxes']);
  // Max-min over 6: the claimants want 1 each, so the hog's share is 4. It holds 6.
  t.is(reasonOf(ask('addr:10.0.0.1', 1, 'h0')), 'client_share', 'keeping its own busy key busy');
  t.is(reasonOf(ask('addr:10.0.0.1', 1, 'h9')), 'client_share', 'opening one more');
  // Another client on a key the hog holds: that key's mailbox exists, the limit never refuses it.
  const beside = ask('addr:10.0.0.4', 1, 'h5');
  t.is(reasonOf(beside), 'admitted');
  t.is(reasonOf(ask('addr:10.0.0.1', 1, 'h5')), 'client_share', 'nor a key it shares: it is above its share');
  t.is(reasonOf(ask('addr:10.0.0.4', 1, 'h5')), 'admitted', 'the other holder, within its share, keeps it');
  answer((p) => p.key.startsWith('h0') || p.key.startsWith('h1'));
  await Promise.all([exact(t, hog[0]), exact(t, hog[1])]);
  const again = [ask('addr:10.0.0.2', 1, 'own1'), ask('addr:10.0.0.3', 1, 'own2')];
  t.deepEqual(again.map(reasonOf), ['admitted', 'admitted'], 'each took an idle key of the hog');
  t.is(coordinator.stats.keys, 6);
  t.is(coordinator.stats.claims, 0);
  // Holding 4 of 6 beside two clients holding 1: its share, and nobody waits: it may keep them.
  t.is(reasonOf(ask('addr:10.0.0.1', 1, 'h2')), 'admitted');
  answer();
  await Promise.all([...again, beside, ...hog.slice(2)].map((asked) => exact(t, asked)));
});

test('idle mailboxes are reclaimed once idle for a while, with no request needing the room', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 4, keyIdleMs: 20});
  t.teardown(() => coordinator.close());
  const opened = [0, 1, 2, 3].map((i) => ask('addr:10.0.0.1', 1, `k${i}`));
  t.is(coordinator.stats.keys, 4);
  answer();
  await Promise.all(opened.map((asked) => exact(t, asked)));
  await waitFor('idle keys swept', () => coordinator.stats.keys === 0);
  const normal = ask('addr:10.0.0.2', 1, 'fresh');
  answer();
  await exact(t, normal);
});

test('a client holding nothing is never refused client_share, however much it asks; it waits its turn with a claim', (t) => {
  const {coordinator, ask} = coordinatorAlone({maxMailboxes: 8, maxPendingPerMailbox: 10});
  t.teardown(() => coordinator.close());
  t.is(reasonOf(ask('addr:10.0.0.1', 10)), 'admitted');
  const reasons = new Set(Array.from({length: 20}, (_, i) => reasonOf(ask(`addr:10.1.0.${i}`, 6))));
  t.deepEqual([...reasons], ['mailbox_full']);
  t.is(coordinator.stats.claims, 20);
  t.is(reasonOf(ask('addr:10.0.0.1', 1)), 'client_share', 'the one holding it all is above its share');
});

test('the share is max-min over what clients want: small clients keep what they ask, the rest is split between the larger ones, not 1/N each', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8, maxPendingPerMailbox: 12});
  t.teardown(() => coordinator.close());
  const small = [1, 2, 3, 4].map((i) => ask(`addr:10.0.0.${i}`, 1));
  const hogFirst = ask('addr:10.0.0.9', 2);
  t.deepEqual([...small, hogFirst].map(reasonOf), Array(5).fill('admitted'));
  const big = ask('addr:10.0.1.1', 7);
  t.is(reasonOf(big), 'mailbox_full', '6 held, 7 asked: it claims them');
  // Demands 1, 1, 1, 1 and two larger clients: 4 each of the 8 left. The hog would hold 4: its share,
  // though six clients share the mailbox (1/N would be 2).
  const hogMore = ask('addr:10.0.0.9', 2);
  t.is(reasonOf(hogMore), 'admitted');
  t.is(reasonOf(ask('addr:10.0.0.9', 1)), 'client_share', 'at 5 it is above its share while the claim waits');
  t.is(reasonOf(ask('addr:10.0.1.1', 7)), 'mailbox_full', 'above its share too, but it holds nothing');
  answer();
  await Promise.all([...small, hogFirst, hogMore].map((asked) => exact(t, asked)));
  const bigAgain = ask('addr:10.0.1.1', 7);
  t.is(reasonOf(bigAgain), 'admitted');
  answer();
  await exact(t, bigAgain);
});

test('clients are grouped: an IPv4-mapped IPv6 address is its IPv4 address, an IPv6 address counts as its /64, API keys as themselves', (t) => {
  t.is(clientGroup('addr:::ffff:192.0.2.7'), 'addr:192.0.2.7');
  t.is(clientGroup('addr:::FFFF:192.0.2.7'), 'addr:192.0.2.7');
  t.is(clientGroup('addr:192.0.2.7'), 'addr:192.0.2.7');
  const host = clientGroup('addr:2001:db8:1:2::1');
  t.is(host, 'addr:2001:db8:1:2::/64');
  for (const same of ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2:a:b:c:d%eth0', '2001:DB8:1:2::1.2.3.4'])
    t.is(clientGroup(`addr:${same}`), host, same);
  t.not(clientGroup('addr:2001:db8:1:3::1'), host, 'the next /64 is another client');
  t.is(clientGroup('addr:::1'), 'addr:0:0:0:0::/64');
  t.is(clientGroup('addr:1::'), 'addr:1:0:0:0::/64');
  t.is(clientGroup('key:3'), 'key:3');
  t.is(clientGroup('addr:not an address'), 'addr:not an address', 'kept as it is, one client');
});

test('a flood from 1,000 addresses of one /64 is one client: held to one share beside a normal client, which is answered exact', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8, maxPendingPerMailbox: 10});
  t.teardown(() => coordinator.close());
  const flood = Array.from({length: 1000}, (_, i) => ask(`addr:2001:db8:0:1::${i.toString(16)}`, 1));
  t.is(flood.filter((a) => reasonOf(a) === 'admitted').length, 10, 'alone, it fills the mailbox');
  t.is(coordinator.clients, 1);
  t.is(reasonOf(ask('addr:::ffff:192.0.2.7', 1)), 'mailbox_full');
  answer(first(1));
  const more = Array.from({length: 100}, (_, i) => ask(`addr:2001:db8:0:1:ffff::${i.toString(16)}`, 1));
  t.deepEqual([...new Set(more.map(reasonOf))], ['client_share']);
  const normal = ask('addr:192.0.2.7', 1);
  t.is(reasonOf(normal), 'admitted', 'the mapped address and the plain one are one client: its claim kept');
  t.is(coordinator.clients, 2);
  answer();
  await exact(t, normal);
  await Promise.all(flood.filter((a) => a.admission.admitted).map((a) => exact(t, a)));
});

test('a flood of distinct IPv4 addresses leaves at most the bounded number of claims, pushes out none of the earlier normal ones, and they get in exact', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8, maxPendingPerMailbox: 4});
  t.teardown(() => coordinator.close());
  const hog = ask('addr:10.0.0.1', 4);
  const normal = [ask('addr:10.0.0.2', 1), ask('addr:10.0.0.3', 1)];
  t.deepEqual(normal.map(reasonOf), ['mailbox_full', 'mailbox_full']);
  for (let i = 0; i < 5000; i++) ask(`addr:10.1.${i >> 8}.${i & 255}`, 1);
  t.is(coordinator.stats.claims, defaultMaxClaims, 'bounded');
  t.is(coordinator.clients, 1, 'only clients with something in flight are kept');
  answer(first(2));
  const again = [ask('addr:10.0.0.2', 1), ask('addr:10.0.0.3', 1)];
  t.deepEqual(again.map(reasonOf), ['admitted', 'admitted'], 'first in line, their claims kept');
  answer();
  await Promise.all([hog, ...again].map((asked) => exact(t, asked)));
});

test('a key shared by many clients is one mailbox in the max-min share of MAX_MAILBOXES: a client keeping three keys busy beside it is within its share', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const sharing = Array.from({length: 10}, (_, i) => ask(`addr:10.2.0.${i}`, 1, 'shared'));
  const three = [0, 1, 2].map((i) => ask('addr:10.0.0.1', 1, `h${i}`));
  t.deepEqual([...sharing, ...three].map(reasonOf), Array(13).fill('admitted'));
  // One request of five new keys: 4 busy + 5 > 8, it claims them.
  const wideKeys = [0, 1, 2, 3, 4].map((i) => `w${i}`);
  const wide = () =>
    coordinator.submit({
      requestId: 'wide',
      client: 'addr:10.0.0.3',
      agents: wideKeys.map((type, i) => ({id: type, vector: [9, i], model: 'm', agentType: type})),
      deadline: Date.now() + 60_000,
    });
  const first = wide();
  t.true(!first.admitted && first.refusal.reason === 'too_many_mailboxes');
  // Demands in mailboxes: the shared key 1, the client of three 3, the claim 5: 9 > 8, a water level
  // of 3.5. The client of three is within it; counting the shared key once per client (10) would
  // have refused it client_share.
  const pipelined = ask('addr:10.0.0.1', 1, 'h0');
  t.is(reasonOf(pipelined), 'admitted');
  t.is(reasonOf(ask('addr:10.0.0.1', 1, 'h3')), 'client_share', 'a fourth key would be above it');
  answer((p) => p.key.startsWith('shared'));
  const second = wide();
  t.true(second.admitted, 'the shared key drained: the claim of five fits');
  answer();
  await Promise.all([...sharing, ...three, pipelined].map((asked) => exact(t, asked)));
  if (second.admitted)
    t.deepEqual(
      (await second.ticket.outcomes).map((o) => ('prediction' in o ? o.prediction : o.error.code)),
      wideKeys.map((type, i) => predictRow(bias('m', type), [9, i])),
    );
});

test('two addresses sharing every mailbox, each keeping them busy, are both held to their share while another client claims one; the claimant gets in, exact', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 4});
  t.teardown(() => coordinator.close());
  const keys = ['h0', 'h1', 'h2', 'h3'];
  const opened = ['addr:10.0.0.1', 'addr:10.0.0.2'].flatMap((address) => keys.map((key) => ask(address, 1, key)));
  t.deepEqual(opened.map(reasonOf), Array(8).fill('admitted'));
  t.is(reasonOf(ask('addr:10.0.0.9', 1, 'own')), 'too_many_mailboxes');
  for (const address of ['addr:10.0.0.1', 'addr:10.0.0.2'])
    for (const key of keys) t.is(reasonOf(ask(address, 1, key)), 'client_share', `${address} on ${key}`);
  answer((p) => p.key.startsWith('h0'));
  const normal = ask('addr:10.0.0.9', 1, 'own');
  t.is(reasonOf(normal), 'admitted', 'h0 drained and went to the claim');
  answer();
  await Promise.all([...opened, normal].map((asked) => exact(t, asked)));
});

test('the holdings histogram: sum(min(held, x)) exact as clients come and go, and as few entries as distinct amounts held', (t) => {
  const demands = new Demands();
  const held = [1, 1, 2, 5, 5, 9];
  for (const n of held) for (let i = 0; i < n; i++) demands.move(i, i + 1);
  t.is(demands.clients, 6);
  t.is(demands.distinct, 4);
  for (const x of [0, 1, 2, 4, 9, 100])
    t.is(
      demands.sumMin(x),
      held.reduce((sum, n) => sum + Math.min(n, x), 0),
      `x = ${x}`,
    );
  demands.move(9, 0);
  demands.move(2, 1);
  t.is(demands.clients, 5);
  t.is(demands.sumMin(100), 1 + 1 + 1 + 5 + 5);
  t.is(demands.distinct, 2, 'amounts no one holds are gone');
});

test('attack: 50 clients refused one after another beside a flood are told to come back when room frees, not each a second after the one before; then all get in, exact', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8, maxPendingPerMailbox: 400});
  t.teardown(() => coordinator.close());
  const flood = Array.from({length: 50}, () => ask('addr:10.9.9.9', 8));
  t.deepEqual(new Set(flood.map(reasonOf)), new Set(['admitted']), 'the flood fills the mailbox (400 agents)');
  const first50 = Array.from({length: 50}, (_, i) => ask(`addr:10.1.0.${i}`, 4));
  t.deepEqual(new Set(first50.map(reasonOf)), new Set(['mailbox_full']));
  // One round of the flood's batches is answered: the room it frees is promised to the claims
  // of the 50, so 50 more clients are queued behind them, one after another.
  answer(first(40));
  const next50 = Array.from({length: 50}, (_, i) => ask(`addr:10.2.0.${i}`, 4));
  t.deepEqual(new Set(next50.map(reasonOf)), new Set(['claims_queued']));
  // The key's expected latency is 1 s: room frees with the next round of batches, and the claims
  // ahead are due back then. Before, each was told to wait for the claim before it to lapse, one
  // second more each: 2, 3, … 51 s.
  const waits = next50.map((asked) => (asked.admission.admitted ? 0 : asked.admission.refusal.retryAfterSeconds));
  t.true(Math.max(...waits) <= 2, `Retry-After of the 50: ${waits.join(' ')}`);
  // The flood is answered; all 100 come back, in their places in line, and get in.
  answer();
  const back = [
    ...Array.from({length: 50}, (_, i) => ask(`addr:10.1.0.${i}`, 4)),
    ...Array.from({length: 50}, (_, i) => ask(`addr:10.2.0.${i}`, 4)),
  ];
  t.deepEqual(new Set(back.map(reasonOf)), new Set(['admitted']));
  answer();
  await Promise.all([...flood, ...back].map((asked) => exact(t, asked)));
});
