// Admission through the real service: the limits refuse a request whole, a client gone before
// its batch never reaches the backend, the mailbox limit cannot be held by one client. Agents are
// kept in flight by a backend that answers only when the test opens its gate, and every wait is on
// state (counts the service or the backend reports), never on a sleep.

import test from 'ava';
import type {ExecutionContext} from 'ava';
import http from 'node:http';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {startGatedBackend} from './helpers/gated-backend.ts';
import {post, postFrom, startService} from './helpers/service.ts';
import type {Reply, Running} from './helpers/service.ts';
import {waitFor} from './helpers/wait-for.ts';

const stats = (running: Running) => running.service.coordinator.stats;

/**
 * The service with 4 mailboxes in front of a gated backend, and what the mailbox tests ask of it:
 * agents of model m, one per agent type (vector [v, i]), checked exact against the formula.
 */
async function fourMailboxes(t: ExecutionContext) {
  const backend = await startGatedBackend();
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    MAX_MAILBOXES: '4',
    MAX_KEYS_PER_REQUEST: '4',
    MAX_AGENTS_PER_REQUEST: '8',
  });
  t.teardown(() => running.close());
  const agents = (types: string[], v: number) =>
    Object.fromEntries(types.map((type, i) => [`${type}-${i}`, {vector: [v, i], model: 'm', agent_type: type}]));
  const exact = (reply: Reply, types: string[], v: number) => {
    t.is(reply.status, 200, JSON.stringify(reply.body));
    for (const [i, type] of types.entries())
      t.is(reply.body.results[`${type}-${i}`].prediction, predictRow(bias('m', type), [v, i]));
  };
  const reason = (reply: Reply) => (reply.status === 200 ? 'admitted' : String(reply.body?.error?.message));
  return {backend, running, url: `${running.url}/predict`, agents, exact, reason};
}

test('a flood over MAX_PENDING_PER_MAILBOX is refused whole with 503 and a Retry-After; every accepted request completes', async (t) => {
  const backend = await startGatedBackend();
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    MAX_PENDING_PER_MAILBOX: '50',
    MAX_AGENTS_PER_REQUEST: '8',
  });
  t.teardown(() => running.close());
  const vector = (c: number, i: number) => [c, i, 1];
  const pending = Array.from({length: 40}, (_, c) =>
    post(`${running.url}/predict`, {
      agents: Object.fromEntries(
        Array.from({length: 4}, (_, i) => [`c${c}-${i}`, {vector: vector(c, i), model: 'hot', agent_type: 't'}]),
      ),
    }),
  );
  // Nothing is answered before every request was admitted or refused: the gate holds the backend.
  await waitFor('40 requests admitted or refused', () => stats(running).refused + stats(running).liveParts / 4 === 40);
  t.is(stats(running).liveParts, 48, '12 × 4 = 48 agents fit under 50, the 13th request would not');
  backend.open();
  const replies = await Promise.all(pending);
  let accepted = 0;
  let refused = 0;
  replies.forEach((reply, c) => {
    if (reply.status === 503) {
      refused++;
      t.is(reply.body.error.code, 'overloaded');
      // The hot key's latency: nothing measured yet, an HTTP backend is expected at 1 s; one round.
      t.is(reply.headers.get('retry-after'), '1');
      return;
    }
    accepted++;
    t.is(reply.status, 200);
    t.false(reply.body.errors, 'no accepted request is partial');
    for (let i = 0; i < 4; i++)
      t.is(reply.body.results[`c${c}-${i}`].prediction, predictRow(bias('hot', 't'), vector(c, i)));
  });
  t.is(accepted, 12);
  t.is(refused, 28);
  t.is(stats(running).refused, 28);
  t.is(backend.rows, 48, 'only the admitted agents reached the backend');
  await waitFor('every part answered for', () => stats(running).liveParts === 0);
  const after = await post(`${running.url}/predict`, {agents: {a: {vector: [1], model: 'hot', agent_type: 't'}}});
  t.is(after.status, 200, 'serves normally after the flood');
  t.is(after.body.results.a.prediction, predictRow(bias('hot', 't'), [1]));
});

test('MAX_PENDING_TOTAL and MAX_MAILBOXES refuse a request whole', async (t) => {
  const backend = await startGatedBackend();
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    MAX_PENDING_TOTAL: '5',
    MAX_PENDING_PER_MAILBOX: '5',
    MAX_AGENTS_PER_REQUEST: '4',
    MAX_MAILBOXES: '2',
    MAX_KEYS_PER_REQUEST: '2',
  });
  t.teardown(() => running.close());
  const a = (model: string, v = 1) => ({vector: [v], model, agent_type: 't'});
  const held = post(`${running.url}/predict`, {agents: {x1: a('m1'), x2: a('m1', 2), x3: a('m2')}});
  await waitFor('the first request in flight', () => stats(running).liveParts === 3);
  const tooMany = await post(`${running.url}/predict`, {agents: {y1: a('m1'), y2: a('m1'), y3: a('m1')}});
  t.is(tooMany.status, 503);
  t.regex(tooMany.body.error.message, /pending agents limit/);
  const newKey = await post(`${running.url}/predict`, {agents: {z1: a('m1'), z2: a('m3')}});
  t.is(newKey.status, 503);
  t.regex(newKey.body.error.message, /too many mailboxes/);
  backend.open();
  const first = await held;
  t.is(first.status, 200);
  t.deepEqual(
    ['x1', 'x2', 'x3'].map((id) => first.body.results[id].prediction),
    [predictRow(bias('m1', 't'), [1]), predictRow(bias('m1', 't'), [2]), predictRow(bias('m2', 't'), [1])],
  );
  // Nothing of the refused requests reached a mailbox: only the held request's 3 agents ran.
  t.is(backend.rows, 3);
  await waitFor('every part answered for', () => stats(running).liveParts === 0);
  // Idle keys give way to new ones once nothing of theirs is in flight.
  const later = await post(`${running.url}/predict`, {agents: {w1: a('m3'), w2: a('m4')}});
  t.is(later.status, 200);
  t.is(later.body.results.w2.prediction, predictRow(bias('m4', 't'), [1]));
});

test('a client that goes away before its batch is cut never reaches the backend; its key-mates still get theirs', async (t) => {
  const backend = await startFakeBackend();
  t.teardown(() => backend.close());
  // A batch is cut when 2 rows wait, or after a wait no test outlasts: A's lone row stays put.
  const running = await startService({BACKEND_URL: backend.url, MAX_WAIT_MS: '60000', MAX_BATCH_SIZE: '2'});
  t.teardown(() => running.close());

  // Client A sends one agent and hangs up while its row waits in the mailbox.
  const body = JSON.stringify({agents: {gone: {vector: [42, 42], model: 'shared', agent_type: 't'}}});
  const req = http.request(`${running.url}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}});
  req.on('error', () => {});
  req.end(body);
  await waitFor("A's row in its mailbox", () => stats(running).liveParts === 1);
  req.destroy();
  await waitFor(
    "A's row withdrawn by its thread",
    () => stats(running).withdrawn === 1 && stats(running).liveParts === 0,
  );

  // Client B shares the key and arrives later: its two rows fill a batch, cut at once.
  const reply = await post(`${running.url}/predict`, {
    agents: {
      stay: {vector: [1, 2], model: 'shared', agent_type: 't'},
      too: {vector: [3, 4], model: 'shared', agent_type: 't'},
    },
  });
  t.is(reply.status, 200);
  t.is(reply.body.results.stay.prediction, predictRow(bias('shared', 't'), [1, 2]));
  t.is(reply.body.results.too.prediction, predictRow(bias('shared', 't'), [3, 4]));
  t.is(reply.body.results.stay.batch.size, 2, 'batch.size counts only the rows sent');
  t.deepEqual(
    backend.received.flatMap((c) => c.vectors),
    [
      [1, 2],
      [3, 4],
    ],
    'the withdrawn row never reached the backend',
  );
  t.is(stats(running).withdrawn, 1);
  t.is(stats(running).liveParts, 0);
});

test('a request that could never be admitted is a 422 naming the limit, not a 503 to retry; the largest valid one fits an idle service', async (t) => {
  const limits = {
    MAX_AGENTS_PER_REQUEST: '8',
    MAX_PENDING_PER_MAILBOX: '8',
    MAX_PENDING_TOTAL: '16',
    MAX_KEYS_PER_REQUEST: '3',
    MAX_MAILBOXES: '3',
  };
  const running = await startService(limits);
  t.teardown(() => running.close());
  const agents = (n: number, keys: number) =>
    Object.fromEntries(
      Array.from({length: n}, (_, i) => [`a${i}`, {vector: [i, 1], model: `m${i % keys}`, agent_type: 't'}]),
    );
  const check = (reply: Awaited<ReturnType<typeof post>>, n: number, keys: number) => {
    t.is(reply.status, 200, JSON.stringify(reply.body));
    for (let i = 0; i < n; i++)
      t.is(reply.body.results[`a${i}`].prediction, predictRow(bias(`m${i % keys}`, 't'), [i, 1]));
  };
  // The attacks, with normal clients beside them on the same keys.
  const [oneKey, manyKeys, ...normal] = await Promise.all([
    post(`${running.url}/predict`, {agents: agents(9, 1)}),
    post(`${running.url}/predict`, {agents: agents(4, 4)}),
    ...Array.from({length: 3}, () => post(`${running.url}/predict`, {agents: agents(2, 2)})),
  ]);
  t.is(oneKey.status, 422);
  t.is(oneKey.headers.get('retry-after'), null);
  t.deepEqual(oneKey.body.error.details, [
    {path: 'agents', message: 'must hold at most 8 agents (MAX_AGENTS_PER_REQUEST; got 9)'},
  ]);
  t.is(manyKeys.status, 422);
  t.deepEqual(manyKeys.body.error.details, [
    {path: 'agents', message: 'must use at most 3 distinct (agent_type, model) keys (MAX_KEYS_PER_REQUEST; got 4)'},
  ]);
  for (const reply of normal) check(reply, 2, 2);
  // On the idle service the largest valid requests get in: config refuses limits that would not allow it.
  check(await post(`${running.url}/predict`, {agents: agents(8, 1)}), 8, 1);
  check(await post(`${running.url}/predict`, {agents: agents(8, 3)}), 8, 3);
  t.is(running.service.coordinator.stats.refused, 0, 'nothing was refused with a 503');
});

test('one address holding every mailbox cannot keep them: new clients claim one, the hog is held to its share and each claimant gets in, exact; keys in flight are never refused by the limit', async (t) => {
  const {backend, running, url, agents, exact, reason} = await fourMailboxes(t);
  const hogKeys = ['h0', 'h1', 'h2', 'h3'];
  const hog = (types: string[], v: number) => postFrom('127.0.0.2', url, {agents: agents(types, v)});

  // Alone, the hog opens every mailbox (work-conserving: nobody else wants one) and keeps them busy.
  const hogFirst = hog(hogKeys, 1);
  await waitFor("the hog's agents in flight", () => stats(running).liveParts === 4);
  const ownKeys = ['n1', 'n2'];
  const normal = (i: number) => postFrom(`127.0.0.${3 + i}`, url, {agents: agents([ownKeys[i]], 10 + i)});
  for (const i of [0, 1]) t.regex(reason(await normal(i)), /too many mailboxes/, 'the limit is full: a claim is left');
  t.is(stats(running).claims, 2);
  // Pipelining on its own busy keys (what kept them forever before) and opening more: its share.
  const kept = await hog(['h0'], 2);
  t.regex(reason(kept), /more than its fair share/);
  t.regex(reason(await hog(['h9'], 2)), /more than its fair share/);
  // A key in flight has its mailbox: another client's request for it is never refused by the limit.
  const beside = postFrom('127.0.0.9', url, {agents: agents(['h2'], 7)});
  await waitFor('the request beside in flight', () => stats(running).liveParts === 5);
  // Still full: asking again renews each claim (a claim not renewed lapses a second after its Retry-After).
  for (const i of [0, 1]) t.regex(reason(await normal(i)), /too many mailboxes/);

  backend.open();
  exact(await hogFirst, hogKeys, 1);
  exact(await beside, ['h2'], 7);
  await waitFor('every part answered for', () => stats(running).liveParts === 0);
  backend.shut();
  // The hog, holding nothing now, tries to take every idle mailbox back: in line behind the claims,
  // told so (no mailbox is busy: not "too many mailboxes").
  t.regex(reason(await hog(hogKeys, 3)), /promised to clients refused before this one/);
  // Each claimant gets in, an idle key retired for it, and is answered exact.
  const firsts = [normal(0), normal(1)];
  await waitFor('both claimants in flight', () => stats(running).liveParts === 2);
  backend.open();
  const [n1, n2] = await Promise.all(firsts);
  exact(n1, ['n1'], 10);
  exact(n2, ['n2'], 11);
  t.is(stats(running).claims, 1, "only the hog's own claim is left");
  exact(await hog(hogKeys.slice(0, 2), 4), hogKeys.slice(0, 2), 4);
});

test('claims left while every mailbox was busy stop counting when not renewed: a newcomer meanwhile is told the freed mailboxes are promised, then a multi-key request on the idle service is admitted, exact', async (t) => {
  const {backend, running, url, agents, exact, reason} = await fourMailboxes(t);
  // Four addresses hold a mailbox each; six others ask for a new key once and never come back.
  const boot = [0, 1, 2, 3].map((i) => postFrom(`127.0.0.${2 + i}`, url, {agents: agents([`b${i}`], i)}));
  await waitFor('every mailbox busy', () => stats(running).liveParts === 4);
  for (let i = 0; i < 6; i++)
    t.regex(reason(await postFrom(`127.0.1.${i}`, url, {agents: agents([`atk${i}`], 1)})), /too many mailboxes/);
  t.is(stats(running).claims, 6);
  backend.open();
  for (const [i, reply] of (await Promise.all(boot)).entries()) exact(reply, [`b${i}`], i);
  await waitFor('every part answered for', () => stats(running).liveParts === 0);
  // Nothing busy. If the six still stand, the mailboxes freed for them are promised: said so.
  const early = await postFrom('127.0.0.20', url, {agents: agents(['nA', 'nB'], 20)});
  if (early.status === 503) {
    t.regex(reason(early), /promised to clients refused before this one/);
    t.notRegex(reason(early), /too many mailboxes/);
    t.true(Number(early.headers.get('retry-after')) >= 1);
  } else exact(early, ['nA', 'nB'], 20);
  await waitFor('the six claims lapsed', () => stats(running).claims <= 1);
  exact(await postFrom('127.0.0.20', url, {agents: agents(['nA', 'nB'], 21)}), ['nA', 'nB'], 21);
  exact(await postFrom('127.0.0.21', url, {agents: agents(['nC', 'nD', 'nE'], 22)}), ['nC', 'nD', 'nE'], 22);
  t.is(stats(running).claims, 0);
});
