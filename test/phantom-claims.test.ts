// Claims that hold nothing (issue #22 item 7), on the coordinator alone (helpers/fake-transport.ts):
// clients that were refused once and never come back, or come back only after their claim lapsed,
// must not keep free capacity from whoever asks now. Normal clients beside every attack, every
// answer checked against the formula.

import test from 'ava';
import type {ExecutionContext} from 'ava';
import {refusalMessages} from '../src/coordinator/admission.ts';
import type {Admission} from '../src/coordinator/api.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {coordinatorAlone, reasonOf, ticketOf} from './helpers/fake-transport.ts';
import type {Asked} from './helpers/fake-transport.ts';
import {waitFor} from './helpers/wait-for.ts';

async function exact(t: ExecutionContext, asked: Asked) {
  const outcomes = await ticketOf(asked).outcomes;
  t.deepEqual(
    outcomes.map((o) => ('prediction' in o ? o.prediction : o.error.code)),
    asked.agents.map((a) => predictRow(bias(a.model, a.agentType), a.vector)),
  );
}

/** A request of one agent per key (agent types `types`, model m) from `client`. */
function askKeys(coordinator: ReturnType<typeof coordinatorAlone>['coordinator'], client: string, types: string[]) {
  const agents = types.map((type, i) => ({id: type, vector: [types.length, i], model: 'm', agentType: type}));
  const admission: Admission = coordinator.submit({
    requestId: `${client}-${types.join('-')}`,
    client,
    agents,
    deadline: Date.now() + 60_000,
  });
  return {admission, agents};
}

const refusal = ({admission}: Asked) => (admission.admitted ? undefined : admission.refusal);

test('cyclers: claims left while every mailbox was held hold back the freed ones only until they lapse; then an idle service admits multi-key requests and a holder of one key asking a second, exact', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  // Eight addresses hold a mailbox each; twenty cyclers each ask for a new key and are refused.
  const boot = Array.from({length: 8}, (_, i) => ask(`addr:10.5.0.${i}`, 1, `boot${i}`));
  t.deepEqual(boot.map(reasonOf), Array(8).fill('admitted'));
  const cyclers = Array.from({length: 20}, (_, i) => ask(`addr:10.4.0.${i}`, 1, `atk${i}`));
  t.deepEqual(new Set(cyclers.map(reasonOf)), new Set(['too_many_mailboxes']), 'every mailbox is really busy');
  t.is(coordinator.stats.claims, 20);
  answer();
  await Promise.all(boot.map((asked) => exact(t, asked)));
  // No mailbox is busy now. While the cyclers' claims last (Retry-After 1 s and a 1 s grace), the
  // mailboxes freed since are promised to them: a newcomer is told so, and to come back when they
  // are due back (1 s).
  const early = askKeys(coordinator, 'addr:10.0.0.61', ['nA', 'nB']);
  t.deepEqual(refusal(early), {reason: 'claims_queued', retryAfterSeconds: 1});
  t.notRegex(refusalMessages.claims_queued, /too many mailboxes/);
  // The cyclers never renew: their claims stop counting at their deadline, the newcomer's stakes nothing.
  await waitFor('the cyclers claims lapsed', () => coordinator.stats.claims === 1);
  const holder = askKeys(coordinator, 'addr:10.0.0.64', ['held']);
  const twoKeys = askKeys(coordinator, 'addr:10.0.0.61', ['nA', 'nB']);
  const threeKeys = askKeys(coordinator, 'addr:10.0.0.63', ['nD', 'nE', 'nF']);
  const second = askKeys(coordinator, 'addr:10.0.0.64', ['second']);
  t.deepEqual([holder, twoKeys, threeKeys, second].map(reasonOf), Array(4).fill('admitted'));
  t.is(coordinator.stats.claims, 0);
  // The cyclers come back, each for yet another new key: they get the one mailbox left, or are
  // told the mailboxes are really busy (7 of 8 in flight, then 8).
  const back = Array.from({length: 20}, (_, i) => ask(`addr:10.4.0.${i}`, 1, `atk${20 + i}`));
  t.is(reasonOf(back[0]), 'admitted');
  t.deepEqual(new Set(back.slice(1).map(reasonOf)), new Set(['too_many_mailboxes']));
  answer();
  await Promise.all([holder, twoKeys, threeKeys, second, back[0]].map((asked) => exact(t, asked)));
});

test('claims for a key that has since opened count as no new mailbox: a fresh client gets a mailbox at once', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const hog = Array.from({length: 8}, (_, i) => ask('addr:10.0.0.2', 1, `k${i}`));
  t.deepEqual(hog.map(reasonOf), Array(8).fill('admitted'));
  // Twenty clients ask for one new key X while every mailbox is busy, then the hog drains.
  const x = Array.from({length: 20}, (_, i) => ask(`addr:10.3.0.${i}`, 1, 'X'));
  t.deepEqual(new Set(x.map(reasonOf)), new Set(['too_many_mailboxes']));
  answer();
  await Promise.all(hog.map((asked) => exact(t, asked)));
  // The first of them comes back: X opens. The other nineteen claims want X, which now has its mailbox.
  const first = ask('addr:10.3.0.0', 1, 'X');
  t.is(reasonOf(first), 'admitted');
  const fresh = ask('addr:10.0.0.50', 1, 'Y');
  t.is(reasonOf(fresh), 'admitted', 'seven mailboxes are free and nobody claims one');
  const again = ask('addr:10.3.0.7', 1, 'X');
  t.is(reasonOf(again), 'admitted', 'a claimant of X, back, shares its mailbox');
  answer();
  await Promise.all([first, fresh, again].map((asked) => exact(t, asked)));
});

test('a claim holds back capacity held or freed since it was made, never capacity free when it was made: beside a steady holder, the free mailboxes go to whoever asks', async (t) => {
  const {coordinator, answer, ask} = coordinatorAlone({maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const steady = [0, 1, 2].map((i) => ask('addr:10.0.0.3', 1, `s${i}`));
  // A client asking six new keys beside three busy: really too many, it claims them (three held then).
  const wide = askKeys(coordinator, 'addr:10.0.0.4', ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
  t.is(refusal(wide)?.reason, 'too_many_mailboxes');
  // Five mailboxes are free, and were free when the claim was made: a newcomer takes them.
  const newcomer = askKeys(coordinator, 'addr:10.0.0.5', ['n0', 'n1', 'n2', 'n3', 'n4']);
  t.is(reasonOf(newcomer), 'admitted');
  t.deepEqual([...steady, newcomer].map(reasonOf), Array(4).fill('admitted'));
  answer();
  await Promise.all([...steady, newcomer].map((asked) => exact(t, asked)));
  // All drained. The three held when the claim was made wait for it; the five free then do not.
  const l = (n: number, p: string) => Array.from({length: n}, (_, i) => `${p}${i}`);
  const six = askKeys(coordinator, 'addr:10.0.0.6', l(6, 'x'));
  t.is(refusal(six)?.reason, 'claims_queued', 'six would leave two of the three promised');
  const five = askKeys(coordinator, 'addr:10.0.0.7', l(5, 'y'));
  t.is(reasonOf(five), 'admitted', 'five leave the three promised');
  // Five busy, more than the three held when the claim was made: nothing freed since is left to
  // promise, the three free mailboxes go to whoever asks.
  const steadyAgain = ask('addr:10.0.0.3', 1, 's9');
  t.is(reasonOf(steadyAgain), 'admitted');
  answer();
  await Promise.all([five, steadyAgain].map((asked) => exact(t, asked)));
  const wideAgain = askKeys(coordinator, 'addr:10.0.0.4', l(6, 'w'));
  t.is(reasonOf(wideAgain), 'admitted', 'first in line');
  answer();
  await exact(t, wideAgain);
});
