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
