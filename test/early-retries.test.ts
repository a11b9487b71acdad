// Refusals to a client that comes back on the same connection before its Retry-After are held
// until it should have come back (src/http/early-retries.ts): a flood that ignores Retry-After is
// slowed to its pace; an honest client, and another client beside the flood, is never held.

import test from 'ava';
import {EventEmitter} from 'node:events';
import {Client} from 'undici';
import type {ServerResponse} from 'node:http';
import {EarlyRetries} from '../src/http/early-retries.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

const limits = {maxHeld: 2, maxHoldMs: 5000};

test('a first refusal is answered at once; one on the same connection before the client was told to come back is held until then, never past its deadline or the cap', (t) => {
  const early = new EarlyRetries(limits);
  const conn = {};
  const other = {};
  t.is(early.refused(conn, 'a', 2, 1000, 60_000), 0, 'first refusal');
  t.is(early.refused(other, 'b', 2, 1000, 60_000), 0, 'another connection is not held for a’s refusal');
  t.is(early.refused(conn, 'a', 2, 1500, 60_000), 1500, 'back 0.5 s after being told 2 s: held until 3000');
  // Its due time counts from when it was judged (1500 + 2 s), not from the held answer.
  t.is(early.refused(conn, 'a', 2, 3100, 60_000), 400, 'held until 3500; its due time is then 5100');
  t.is(early.refused(other, 'b', 2, 3100, 60_000), 0, 'b came back after its due time (3000)');
  t.is(early.refused(conn, 'a', 1, 3200, 3700), 500, 'never past the request’s deadline');
  t.is(early.refused(conn, 'a', 30, 3300, 60_000), 1800, 'held until the due time before this refusal (5100)');
  t.is(early.refused(conn, 'a', 1, 3400, 60_000), 5000, 'its due time is now 33,300: at most maxHoldMs');
});

test('held only when both the connection and the client are the ones refused: clients behind one address on their own connections, or of a proxy with a key each, are never held for each other', (t) => {
  const early = new EarlyRetries(limits);
  const [first, second] = [{}, {}];
  t.is(early.refused(first, 'addr:10.0.0.1', 2, 1000, 60_000), 0);
  t.is(early.refused(second, 'addr:10.0.0.1', 2, 1100, 60_000), 0, 'same address, its own connection');
  const proxy = {};
  t.is(early.refused(proxy, 'key:one', 2, 1000, 60_000), 0);
  t.is(early.refused(proxy, 'key:two', 2, 1100, 60_000), 0, 'same connection, another client');
  t.is(early.refused(proxy, 'key:one', 2, 1200, 60_000), 0, 'the connection last refused key:two');
  t.is(early.refused(proxy, 'key:one', 2, 1300, 60_000), 1900, 'key:one again, early: held until 3200');
});

test('at most maxHeld refusals are held at once; a client that leaves is not waited for', async (t) => {
  const early = new EarlyRetries(limits);
  const response = () => new EventEmitter() as unknown as ServerResponse;
  const holds = [early.hold(60_000, response()), early.hold(60_000, response())];
  t.is(early.held, 2);
  const conn = {};
  early.refused(conn, 'x', 5, 10_000, 60_000);
  t.is(early.refused(conn, 'x', 5, 10_001, 60_000), 0, 'maxHeld reached: answered at once');
  const leaving = response();
  const held = early.hold(60_000, leaving);
  leaving.emit('close');
  await held;
  t.is(early.held, 2);
  // The two long holds are left to the test's end: their timers are cleared when they resolve.
  void holds;
});

test('attack: a client that asks again the moment its 503 arrives gets its next refusal only when it was told to come back; a normal client beside it is answered exact', async (t) => {
  const running = await startService({
    API_KEYS: 'flood-key-00001,normal-key-0001',
    MAX_PENDING_PER_MAILBOX: '4',
    MAX_AGENTS_PER_REQUEST: '4',
    MAX_WAIT_MS: '5',
    BACKEND_LATENCY_MIN_MS: '1500',
    BACKEND_LATENCY_MAX_MS: '1500',
  });
  t.teardown(() => running.close());
  const as = (key: string) => ({authorization: `Bearer ${key}`});
  const agents = (x: number, n: number) =>
    Object.fromEntries(Array.from({length: n}, (_, i) => [`a${i}`, {vector: [x, i], model: 'm', agent_type: 't'}]));
  const fill = post(`${running.url}/predict`, {agents: agents(1, 4)}, as('flood-key-00001'));
  // Wait until the flood's four agents hold the mailbox.
  while (running.service.coordinator.stats.liveParts < 4) await new Promise((r) => setTimeout(r, 10));
  // The flood's one kept-alive connection.
  const flood = new Client(running.url, {pipelining: 1});
  t.teardown(() => flood.close());
  const ask = async (x: number) => {
    const response = await flood.request({
      path: '/predict',
      method: 'POST',
      headers: {'content-type': 'application/json', ...as('flood-key-00001')},
      body: JSON.stringify({agents: agents(x, 1)}),
    });
    await response.body.dump();
    return {status: response.statusCode, retryAfter: Number(response.headers['retry-after'])};
  };
  const sent = performance.now();
  const first = await ask(2);
  t.is(first.status, 503);
  const {retryAfter} = first;
  t.true(retryAfter >= 1);
  const again = await ask(3);
  t.is(again.status, 503);
  const waited = performance.now() - sent;
  t.true(
    waited >= retryAfter * 1000 - 5,
    `the early retry was answered ${Math.round(waited)} ms after the first was sent`,
  );
  // The normal client honours Retry-After and gets its answer, exact.
  let reply = await post(`${running.url}/predict`, {agents: agents(4, 1)}, as('normal-key-0001'));
  for (let tries = 1; reply.status === 503 && tries < 10; tries++) {
    await new Promise((r) => setTimeout(r, Number(reply.headers.get('retry-after')) * 1000));
    reply = await post(`${running.url}/predict`, {agents: agents(4, 1)}, as('normal-key-0001'));
  }
  t.is(reply.status, 200);
  t.is(reply.body.results.a0.prediction, predictRow(bias('m', 't'), [4, 0]));
  t.is((await fill).status, 200);
});
