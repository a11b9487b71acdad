import test from 'ava';
import http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {held, post, startService} from './helpers/service.ts';

test('a flood over MAX_PENDING_PER_MAILBOX is refused whole with 503 and a Retry-After; every accepted request completes', async (t) => {
  const running = await startService({
    MAX_PENDING_PER_MAILBOX: '50',
    MAX_AGENTS_PER_REQUEST: '8',
    BACKEND_LATENCY_MIN_MS: '1500',
    BACKEND_LATENCY_MAX_MS: '1500',
  });
  t.teardown(() => running.close());
  const vector = (c: number, i: number) => [c, i, 1];
  const replies = await Promise.all(
    Array.from({length: 40}, (_, c) =>
      post(`${running.url}/predict`, {
        agents: Object.fromEntries(
          Array.from({length: 4}, (_, i) => [`c${c}-${i}`, {vector: vector(c, i), model: 'hot', agent_type: 't'}]),
        ),
      }),
    ),
  );
  let accepted = 0;
  let refused = 0;
  replies.forEach((reply, c) => {
    if (reply.status === 503) {
      refused++;
      t.is(reply.body.error.code, 'overloaded');
      const retryAfter = Number(reply.headers.get('retry-after'));
      t.true(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
      // The hot key's measured-or-expected latency is 1.5 s: one round of batches.
      t.is(retryAfter, 2);
      return;
    }
    accepted++;
    t.is(reply.status, 200);
    t.false(reply.body.errors, 'no accepted request is partial');
    for (let i = 0; i < 4; i++)
      t.is(reply.body.results[`c${c}-${i}`].prediction, predictRow(bias('hot', 't'), vector(c, i)));
  });
  t.log(`accepted ${accepted}, refused ${refused}`);
  t.is(accepted, 12, '12 × 4 = 48 agents fit under 50, the 13th request would not');
  t.is(refused, 28);
  t.is(running.service.coordinator.stats.refused, 28);
  t.is(running.service.coordinator.stats.liveParts, 0);
  const after = await post(`${running.url}/predict`, {agents: {a: {vector: [1], model: 'hot', agent_type: 't'}}});
  t.is(after.status, 200, 'serves normally after the flood');
});

test('MAX_PENDING_TOTAL and MAX_MAILBOXES refuse a request whole', async (t) => {
  const running = await startService({
    MAX_PENDING_TOTAL: '5',
    MAX_PENDING_PER_MAILBOX: '5',
    MAX_AGENTS_PER_REQUEST: '4',
    MAX_MAILBOXES: '2',
    MAX_KEYS_PER_REQUEST: '2',
    BACKEND_LATENCY_MIN_MS: '300',
    BACKEND_LATENCY_MAX_MS: '300',
  });
  t.teardown(() => running.close());
  const a = (model: string) => ({vector: [1], model, agent_type: 't'});
  const held = post(`${running.url}/predict`, {agents: {x1: a('m1'), x2: a('m1'), x3: a('m2')}});
  await sleep(50);
  const tooMany = await post(`${running.url}/predict`, {agents: {y1: a('m1'), y2: a('m1'), y3: a('m1')}});
  t.is(tooMany.status, 503);
  t.regex(tooMany.body.error.message, /pending agents limit/);
  const newKey = await post(`${running.url}/predict`, {agents: {z1: a('m1'), z2: a('m3')}});
  t.is(newKey.status, 503);
  t.regex(newKey.body.error.message, /too many mailboxes/);
  t.is((await held).status, 200);
  // Nothing of the refused requests reached a mailbox: only the held request's 3 agents ran.
  t.is(running.service.coordinator.stats.liveParts, 0);
  // Idle keys give way to new ones once nothing of theirs is in flight.
  const later = await post(`${running.url}/predict`, {agents: {w1: a('m3'), w2: a('m4')}});
  t.is(later.status, 200);
});

test('a client that goes away before its batch is cut never reaches the backend; its key-mates still get theirs', async (t) => {
  const backend = await startFakeBackend();
  t.teardown(() => backend.close());
  const running = await startService({BACKEND_URL: backend.url, MAX_WAIT_MS: '400', MAX_BATCH_SIZE: '32'});
  t.teardown(() => running.close());

  // Client A sends one agent and hangs up 100 ms later, while its row waits in the mailbox.
  const body = JSON.stringify({agents: {gone: {vector: [42, 42], model: 'shared', agent_type: 't'}}});
  const req = http.request(`${running.url}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}});
  req.on('error', () => {});
  req.end(body);
  // Hang up once the row is in its mailbox (on a busy machine admission can take a while).
  await held(running, 1);
  await sleep(50);
  req.destroy();
  await sleep(50);

  // Client B shares the key and arrives later; its batch is cut 400 ms after its own arrival.
  const reply = await post(`${running.url}/predict`, {
    agents: {stay: {vector: [1, 2], model: 'shared', agent_type: 't'}},
  });
  t.is(reply.status, 200);
  t.is(reply.body.results.stay.prediction, predictRow(bias('shared', 't'), [1, 2]));
  t.is(reply.body.results.stay.batch.size, 1, 'batch.size counts only the rows sent');
  t.deepEqual(
    backend.received.flatMap((c) => c.vectors),
    [[1, 2]],
    'the withdrawn row never reached the backend',
  );
  t.is(running.service.coordinator.stats.withdrawn, 1);
  t.is(running.service.coordinator.stats.liveParts, 0);
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
