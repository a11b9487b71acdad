// Sharing a batch must never share harm. Each test is an attack, with normal clients beside it
// on the same key (or the same process), and asserts that the normal clients never notice.

import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {post, startService} from './helpers/service.ts';

test('a row whose weighted sum overflows fails alone; 50 clients in the same batches keep exact answers', async (t) => {
  const running = await startService({MAX_WAIT_MS: '100', BACKEND_LATENCY_MIN_MS: '50', BACKEND_LATENCY_MAX_MS: '80'});
  t.teardown(() => running.close());
  const attack = () => post(`${running.url}/predict`, {agents: {evil: {vector: [0, 1e308], model: 'shared', agent_type: 't'}}});
  // Same vector length as the attacker's: a batch has one length.
  const normal = (c: number, round: number) =>
    post(`${running.url}/predict`, {agents: {[`n${c}`]: {vector: [c, round], model: 'shared', agent_type: 't'}}});
  let sharedWithAttacker = 0;
  for (let round = 0; round < 3; round++) {
    // The attacker's requests go out among the normal ones, so that they land in the same batches.
    const sent = Array.from({length: 53}, (_, i) => (i % 18 === 9 ? attack() : normal(i, round)));
    const all = await Promise.all(sent);
    const evil = all.filter((_, i) => i % 18 === 9);
    const evilBatches = new Set(evil.map((r) => r.body.results.evil.batch?.id));
    for (const r of evil) {
      t.is(r.status, 502);
      t.is(r.body.results.evil.error.code, 'backend_bad_response');
    }
    all.forEach((reply, c) => {
      if (c % 18 === 9) return;
      t.is(reply.status, 200, JSON.stringify(reply.body));
      const result = reply.body.results[`n${c}`];
      t.is(result.prediction, predictRow(bias('shared', 't'), [c, round]));
      if (evilBatches.has(result.batch.id)) sharedWithAttacker++;
    });
  }
  t.true(sharedWithAttacker > 0, 'the attacker really shared batches with normal clients');
});

test('an HTTP backend value that is null at one row fails that row only', async (t) => {
  const backend = await startFakeBackend();
  t.teardown(() => backend.close());
  const running = await startService({BACKEND_URL: backend.url, MAX_WAIT_MS: '40'});
  t.teardown(() => running.close());
  const agents = Object.fromEntries(Array.from({length: 6}, (_, i) => [`a${i}`, {vector: [i === 2 ? 13 : i, 1], model: 'nullrow', agent_type: 't'}]));
  const reply = await post(`${running.url}/predict`, {agents});
  t.is(reply.status, 200);
  t.is(reply.body.results.a2.error.code, 'backend_bad_response');
  for (const i of [0, 1, 3, 4, 5]) t.is(reply.body.results[`a${i}`].prediction, predictRow(bias('nullrow', 't'), [i, 1]));
  t.is(backend.calls('nullrow').length, 1, 'one call: a bad value is not a reason to split or retry');
});

test('a backend reply over MAX_BACKEND_REPLY_BYTES is cut off while it streams; memory stays flat and other keys are served', async (t) => {
  const backend = await startFakeBackend({hugeBytes: 256 << 20});
  t.teardown(() => backend.close());
  const running = await startService({BACKEND_URL: backend.url, MAX_BACKEND_REPLY_BYTES: String(1 << 20), BACKEND_RETRIES: '0', MAX_WAIT_MS: '5'});
  t.teardown(() => running.close());
  const rssBefore = process.memoryUsage().rss;
  const replies = await Promise.all([
    ...Array.from({length: 4}, (_, i) => post(`${running.url}/predict`, {agents: {[`h${i}`]: {vector: [i], model: 'huge', agent_type: 't'}}})),
    post(`${running.url}/predict`, {agents: {l: {vector: [1], model: 'liar', agent_type: 't'}}}),
    post(`${running.url}/predict`, {agents: {ok: {vector: [2, 3], model: 'fine', agent_type: 't'}}}),
  ]);
  for (let i = 0; i < 4; i++) {
    t.is(replies[i].status, 502);
    t.is(replies[i].body.results[`h${i}`].error.code, 'backend_bad_response');
    t.regex(replies[i].body.results[`h${i}`].error.message, /larger than 1048576 bytes/);
  }
  t.is(replies[4].body.results.l.error.code, 'backend_bad_response', 'a declared length over the limit is refused before reading');
  t.is(replies[5].body.results.ok.prediction, predictRow(bias('fine', 't'), [2, 3]));
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  t.true(grownMb < 128, `RSS grew ${grownMb.toFixed(0)} MB while 4 × 256 MB replies were offered`);
  const after = await post(`${running.url}/predict`, {agents: {again: {vector: [1], model: 'fine', agent_type: 't'}}});
  t.is(after.status, 200, 'the process is alive and serving');
});

const auth = (key: string) => ({authorization: `Bearer ${key}`});

test('a client flooding one mailbox gets its share and 503s; other clients on the same key still get in, exact', async (t) => {
  const running = await startService({
    API_KEYS: 'flooder,normal',
    MAX_PENDING_PER_MAILBOX: '40',
    MAX_AGENTS_PER_REQUEST: '8',
    BACKEND_LATENCY_MIN_MS: '2000',
    BACKEND_LATENCY_MAX_MS: '2000',
    MAX_WAIT_MS: '5',
  });
  t.teardown(() => running.close());
  const flood = Array.from({length: 30}, (_, c) =>
    post(
      `${running.url}/predict`,
      {agents: Object.fromEntries(Array.from({length: 4}, (_, i) => [`f${c}-${i}`, {vector: [c, i], model: 'hot', agent_type: 't'}]))},
      auth('flooder'),
    ),
  );
  await new Promise((r) => setTimeout(r, 100));
  const normal = await Promise.all(
    Array.from({length: 10}, (_, c) => post(`${running.url}/predict`, {agents: {[`n${c}`]: {vector: [c], model: 'hot', agent_type: 't'}}}, auth('normal'))),
  );
  normal.forEach((reply, c) => {
    t.is(reply.status, 200, JSON.stringify(reply.body));
    t.is(reply.body.results[`n${c}`].prediction, predictRow(bias('hot', 't'), [c]));
  });
  const flooded = await Promise.all(flood);
  const refused = flooded.filter((r) => r.status === 503);
  // 20 of the mailbox's 40 at a time: five requests of 4 (more only if some finished first on a slow machine).
  t.true(flooded.filter((r) => r.status === 200).length >= 5);
  t.true(refused.length >= 15, `${refused.length} refused`);
  for (const r of refused) {
    t.is(r.body.error.code, 'overloaded');
    t.regex(r.body.error.message, /share/);
    t.true(Number(r.headers.get('retry-after')) >= 1);
  }
});

test('a client opening new keys gets its share of the mailboxes; clients with their own keys are served', async (t) => {
  const running = await startService({API_KEYS: 'flooder,normal', MAX_MAILBOXES: '16', MAX_KEYS_PER_REQUEST: '4', BACKEND_LATENCY_MIN_MS: '1500', BACKEND_LATENCY_MAX_MS: '1500'});
  t.teardown(() => running.close());
  const flood = Array.from({length: 8}, (_, c) =>
    post(
      `${running.url}/predict`,
      {agents: Object.fromEntries(Array.from({length: 4}, (_, i) => [`f${i}`, {vector: [1], model: `m${c}-${i}`, agent_type: 't'}]))},
      auth('flooder'),
    ),
  );
  await new Promise((r) => setTimeout(r, 80));
  const normal = await Promise.all(
    Array.from({length: 6}, (_, c) => post(`${running.url}/predict`, {agents: {a: {vector: [c], model: `own-${c}`, agent_type: 't'}}}, auth('normal'))),
  );
  normal.forEach((reply, c) => {
    t.is(reply.status, 200, JSON.stringify(reply.body));
    t.is(reply.body.results.a.prediction, predictRow(bias(`own-${c}`, 't'), [c]));
  });
  const flooded = await Promise.all(flood);
  t.true(flooded.filter((r) => r.status === 200).length >= 2, '8 of 16 mailboxes at a time: two requests of 4 new keys');
  t.true(flooded.filter((r) => r.status === 503).length >= 4);
  t.true(flooded.filter((r) => r.status === 503).every((r) => r.body.error.code === 'overloaded'));
});

test('a request using more than MAX_KEYS_PER_REQUEST keys is refused whole with 422; nothing reaches a mailbox', async (t) => {
  const running = await startService({MAX_KEYS_PER_REQUEST: '4'});
  t.teardown(() => running.close());
  const agents = Object.fromEntries(Array.from({length: 5}, (_, i) => [`a${i}`, {vector: [1], model: `m${i}`, agent_type: 't'}]));
  const reply = await post(`${running.url}/predict`, {agents});
  t.is(reply.status, 422);
  t.deepEqual(reply.body.error.details, [{path: 'agents', message: 'must use at most 4 distinct (agent_type, model) keys (MAX_KEYS_PER_REQUEST; got 5)'}]);
  t.is(running.service.coordinator.stats.keys, 0);
  const fine = await post(`${running.url}/predict`, {agents: Object.fromEntries(Object.entries(agents).slice(0, 4))});
  t.is(fine.status, 200);
});
