// Refusals to a client that comes back before its Retry-After are held until it should have come
// back (src/http/early-retries.ts): a flood that ignores Retry-After is slowed to its pace; an
// honest client, and another client beside the flood, is never held.

import test from 'ava';
import {EventEmitter} from 'node:events';
import type {ServerResponse} from 'node:http';
import {EarlyRetries} from '../src/http/early-retries.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

const limits = {maxClients: 4, maxHeld: 2, maxHoldMs: 5000};

test('a first refusal is answered at once; one before the client was told to come back is held until then, never past its deadline or the cap', (t) => {
  const early = new EarlyRetries(limits);
  t.is(early.refused('a', 2, 1000, 60_000), 0, 'first refusal');
  t.is(early.refused('b', 2, 1000, 60_000), 0, 'another client is not held for a’s refusal');
  t.is(early.refused('a', 2, 1500, 60_000), 1500, 'back 0.5 s after being told 2 s: held until 3000');
  // Its due time counts from when it was judged (1500 + 2 s), not from the held answer: clients of
  // one identity on many connections are held until the same time, not one after another.
  t.is(early.refused('a', 2, 3100, 60_000), 400, 'held until 3500; its due time is then 5100');
  t.is(early.refused('b', 2, 3100, 60_000), 0, 'b came back after its due time (3000)');
  t.is(early.refused('a', 1, 3200, 3700), 500, 'never past the request’s deadline');
  t.is(early.refused('a', 30, 3300, 60_000), 1800, 'held until the due time before this refusal (5100)');
  t.is(early.refused('a', 1, 3400, 60_000), 5000, 'its due time is now 33,300: at most maxHoldMs');
});

test('bounded: the due times of at most maxClients clients (expired ones forgotten first), at most maxHeld refusals held at once', async (t) => {
  const early = new EarlyRetries(limits);
  for (let i = 0; i < 100; i++) early.refused(`c${i}`, 1, 1000 + i, 60_000);
  t.true(early.clients <= limits.maxClients, `${early.clients} clients kept`);
  const response = () => new EventEmitter() as unknown as ServerResponse;
  const holds = [early.hold(60_000, response()), early.hold(60_000, response())];
  t.is(early.held, 2);
  early.refused('x', 5, 10_000, 60_000);
  t.is(early.refused('x', 5, 10_001, 60_000), 0, 'maxHeld reached: answered at once');
  // A client that leaves is not waited for.
  const leaving = response();
  const held = early.hold(60_000, leaving);
  leaving.emit('close');
  await held;
  t.is(early.held, 2);
  t.pass();
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
  const sent = performance.now();
  const first = await post(`${running.url}/predict`, {agents: agents(2, 1)}, as('flood-key-00001'));
  t.is(first.status, 503);
  const retryAfter = Number(first.headers.get('retry-after'));
  t.true(retryAfter >= 1);
  const again = await post(`${running.url}/predict`, {agents: agents(3, 1)}, as('flood-key-00001'));
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
