// Sharing a batch must never share harm. Each test is an attack, with normal clients beside it
// on the same key (or the same process), and asserts that the normal clients never notice.

import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import type {ExecutionContext} from 'ava';
import {held, post, postFrom, startService} from './helpers/service.ts';
import type {Reply} from './helpers/service.ts';

test('a row whose weighted sum overflows fails alone; 50 clients in the same batches keep exact answers', async (t) => {
  const running = await startService({MAX_WAIT_MS: '100', BACKEND_LATENCY_MIN_MS: '50', BACKEND_LATENCY_MAX_MS: '80'});
  t.teardown(() => running.close());
  const attack = () =>
    post(`${running.url}/predict`, {agents: {evil: {vector: [0, 1e308], model: 'shared', agent_type: 't'}}});
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
  const agents = Object.fromEntries(
    Array.from({length: 6}, (_, i) => [`a${i}`, {vector: [i === 2 ? 13 : i, 1], model: 'nullrow', agent_type: 't'}]),
  );
  const reply = await post(`${running.url}/predict`, {agents});
  t.is(reply.status, 200);
  t.is(reply.body.results.a2.error.code, 'backend_bad_response');
  for (const i of [0, 1, 3, 4, 5])
    t.is(reply.body.results[`a${i}`].prediction, predictRow(bias('nullrow', 't'), [i, 1]));
  t.is(backend.calls('nullrow').length, 1, 'one call: a bad value is not a reason to split or retry');
});

test('a backend reply over MAX_BACKEND_REPLY_BYTES is cut off while it streams; memory stays flat and other keys are served', async (t) => {
  const backend = await startFakeBackend({hugeBytes: 256 << 20});
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    MAX_BACKEND_REPLY_BYTES: String(1 << 20),
    BACKEND_RETRIES: '0',
    MAX_WAIT_MS: '5',
  });
  t.teardown(() => running.close());
  const rssBefore = process.memoryUsage().rss;
  const replies = await Promise.all([
    ...Array.from({length: 4}, (_, i) =>
      post(`${running.url}/predict`, {agents: {[`h${i}`]: {vector: [i], model: 'huge', agent_type: 't'}}}),
    ),
    post(`${running.url}/predict`, {agents: {l: {vector: [1], model: 'liar', agent_type: 't'}}}),
    post(`${running.url}/predict`, {agents: {ok: {vector: [2, 3], model: 'fine', agent_type: 't'}}}),
  ]);
  for (let i = 0; i < 4; i++) {
    t.is(replies[i].status, 502);
    t.is(replies[i].body.results[`h${i}`].error.code, 'backend_bad_response');
    t.regex(replies[i].body.results[`h${i}`].error.message, /larger than 1048576 bytes/);
  }
  t.is(
    replies[4].body.results.l.error.code,
    'backend_bad_response',
    'a declared length over the limit is refused before reading',
  );
  t.is(replies[5].body.results.ok.prediction, predictRow(bias('fine', 't'), [2, 3]));
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  t.true(grownMb < 128, `RSS grew ${grownMb.toFixed(0)} MB while 4 × 256 MB replies were offered`);
  const after = await post(`${running.url}/predict`, {agents: {again: {vector: [1], model: 'fine', agent_type: 't'}}});
  t.is(after.status, 200, 'the process is alive and serving');
});

const auth = (key: string) => ({authorization: `Bearer ${key}`});

/** `n` agents of one model, ids `${prefix}0..`, vectors [from + i, 1]. */
const agents = (prefix: string, n: number, model: string, from = 0) =>
  Object.fromEntries(
    Array.from({length: n}, (_, i) => [`${prefix}${i}`, {vector: [from + i, 1], model, agent_type: 't'}]),
  );

function exact(t: ExecutionContext, reply: Reply, prefix: string, n: number, model: string, from = 0) {
  t.is(reply.status, 200, JSON.stringify(reply.body));
  for (let i = 0; i < n; i++)
    t.is(reply.body.results[`${prefix}${i}`].prediction, predictRow(bias(model, 't'), [from + i, 1]));
}

const admitted = (replies: Reply[]) => replies.filter((r) => r.status === 200).length;

test.serial(
  'a lone client on an idle service is never refused while capacity remains: one address fills a whole mailbox, exact',
  async (t) => {
    const running = await startService({
      MAX_PENDING_PER_MAILBOX: '40',
      MAX_AGENTS_PER_REQUEST: '4',
      BACKEND_LATENCY_MIN_MS: '600',
      BACKEND_LATENCY_MAX_MS: '600',
      MAX_WAIT_MS: '5',
    });
    t.teardown(() => running.close());
    const replies = await Promise.all(
      Array.from({length: 11}, (_, c) => post(`${running.url}/predict`, {agents: agents('a', 4, 'hot', 10 * c)})),
    );
    const refused = replies.filter((r) => r.status !== 200);
    t.is(refused.length, 1, '40 agents fit, the 11th request would not');
    t.regex(
      refused[0].body.error.message,
      /mailbox pending limit/,
      'refused because the mailbox is full, not for a share',
    );
    for (const [c, reply] of replies.entries()) if (reply.status === 200) exact(t, reply, 'a', 4, 'hot', 10 * c);
  },
);

test.serial(
  'a flooder holding a whole mailbox cannot keep a newcomer out: its claim waits as the flood finishes, the flooder gets the rest',
  async (t) => {
    const running = await startService({
      API_KEYS: 'flooder,normal',
      MAX_PENDING_PER_MAILBOX: '40',
      MAX_AGENTS_PER_REQUEST: '4',
      BACKEND_LATENCY_MIN_MS: '400',
      BACKEND_LATENCY_MAX_MS: '400',
      MAX_WAIT_MS: '5',
    });
    t.teardown(() => running.close());
    const flood = (round: number) =>
      Array.from({length: 10}, (_, c) =>
        post(`${running.url}/predict`, {agents: agents('f', 4, 'hot', 100 * round + 10 * c)}, auth('flooder')),
      );
    const first = flood(0);
    await held(running, 40);
    const newcomer = await post(`${running.url}/predict`, {agents: agents('n', 1, 'hot', 7)}, auth('normal'));
    t.is(newcomer.status, 503);
    t.regex(newcomer.body.error.message, /mailbox pending limit/);
    t.true(Number(newcomer.headers.get('retry-after')) >= 1);
    for (const [c, reply] of (await Promise.all(first)).entries()) exact(t, reply, 'f', 4, 'hot', 10 * c);
    // The mailbox is empty; the flooder bursts 40 again. Shared with the newcomer's claim, its part
    // is 20, and past it only what the claim leaves: 9 requests of 4 (36 + 1 claimed), not 10.
    const second = await Promise.all(flood(1));
    t.is(admitted(second), 9);
    const share = second.filter((r) => r.status !== 200);
    t.regex(share[0].body.error.message, /more than its fair share while other clients wait/);
    t.true(Number(share[0].headers.get('retry-after')) >= 1);
    exact(
      t,
      await post(`${running.url}/predict`, {agents: agents('n', 1, 'hot', 7)}, auth('normal')),
      'n',
      1,
      'hot',
      7,
    );
    for (const [c, reply] of second.entries()) if (reply.status === 200) exact(t, reply, 'f', 4, 'hot', 100 + 10 * c);
  },
);

test.serial(
  'a flooder opening new keys fills the mailboxes alone, but a client that claimed one of its own gets it back',
  async (t) => {
    const running = await startService({
      API_KEYS: 'flooder,normal',
      MAX_MAILBOXES: '16',
      MAX_KEYS_PER_REQUEST: '4',
      BACKEND_LATENCY_MIN_MS: '400',
      BACKEND_LATENCY_MAX_MS: '400',
    });
    t.teardown(() => running.close());
    const flood = (round: number) =>
      Array.from({length: 4}, (_, c) =>
        post(
          `${running.url}/predict`,
          {
            agents: Object.fromEntries(
              Array.from({length: 4}, (_, i) => [
                `f${i}`,
                {vector: [i, 1], model: `m${round}-${c}-${i}`, agent_type: 't'},
              ]),
            ),
          },
          auth('flooder'),
        ),
      );
    const first = flood(0);
    await held(running, 16);
    const own = await post(`${running.url}/predict`, {agents: agents('n', 1, 'own')}, auth('normal'));
    t.regex(own.body.error.message, /too many mailboxes/);
    t.is(admitted(await Promise.all(first)), 4, 'alone, the flooder had all 16 mailboxes');
    // Its 16 keys are idle now; it opens 16 new ones. Its part is 8 of 16, then what the claim leaves.
    const second = await Promise.all(flood(1));
    t.is(admitted(second), 3);
    t.regex(second.find((r) => r.status !== 200)?.body.error.message, /fair share/);
    exact(t, await post(`${running.url}/predict`, {agents: agents('n', 1, 'own')}, auth('normal')), 'n', 1, 'own');
  },
);

test.serial(
  'N addresses get N parts: two flooding addresses fill a mailbox, five normal addresses each get in on their retry, exact',
  async (t) => {
    const running = await startService({
      MAX_PENDING_PER_MAILBOX: '40',
      MAX_AGENTS_PER_REQUEST: '4',
      BACKEND_LATENCY_MIN_MS: '400',
      BACKEND_LATENCY_MAX_MS: '400',
      MAX_WAIT_MS: '5',
    });
    t.teardown(() => running.close());
    const flooders = ['127.0.0.2', '127.0.0.3'];
    const normals = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'];
    const flood = (round: number, each: number) =>
      flooders.flatMap((address, a) =>
        Array.from({length: each}, (_, c) =>
          postFrom(address, `${running.url}/predict`, {agents: agents('f', 4, 'hot', 1000 * round + 100 * a + 10 * c)}),
        ),
      );
    const first = flood(0, 5);
    await held(running, 40);
    const refused = await Promise.all(
      normals.map((address, n) =>
        postFrom(address, `${running.url}/predict`, {agents: agents('n', 1, 'hot', 500 + n)}),
      ),
    );
    t.true(refused.every((r) => r.status === 503 && /mailbox pending limit/.test(r.body.error.message)));
    t.is(running.service.coordinator.stats.claims, 5);
    t.is(admitted(await Promise.all(first)), 10, 'alone, the two addresses filled the mailbox');
    // Seven share the mailbox now: 5 each; the flood gets what the five claims leave (35: 8 requests of 4).
    const second = await Promise.all(flood(1, 10));
    t.is(admitted(second), 8);
    // Refused: above its part (fair share), or, for an address that held nothing yet, behind the
    // normal clients' smaller claims (the mailbox full, or its freed slots promised to them).
    const why = /fair share|mailbox pending limit|promised to clients refused before/;
    t.true(second.every((r) => r.status === 200 || (r.status === 503 && why.test(r.body.error.message))));
    const retried = await Promise.all(
      normals.map((address, n) =>
        postFrom(address, `${running.url}/predict`, {agents: agents('n', 1, 'hot', 500 + n)}),
      ),
    );
    for (const [n, reply] of retried.entries()) exact(t, reply, 'n', 1, 'hot', 500 + n);
  },
);

test('a request using more than MAX_KEYS_PER_REQUEST keys is refused whole with 422; nothing reaches a mailbox', async (t) => {
  const running = await startService({MAX_KEYS_PER_REQUEST: '4'});
  t.teardown(() => running.close());
  const agents = Object.fromEntries(
    Array.from({length: 5}, (_, i) => [`a${i}`, {vector: [1], model: `m${i}`, agent_type: 't'}]),
  );
  const reply = await post(`${running.url}/predict`, {agents});
  t.is(reply.status, 422);
  t.deepEqual(reply.body.error.details, [
    {path: 'agents', message: 'must use at most 4 distinct (agent_type, model) keys (MAX_KEYS_PER_REQUEST; got 5)'},
  ]);
  t.is(running.service.coordinator.stats.keys, 0);
  const fine = await post(`${running.url}/predict`, {agents: Object.fromEntries(Object.entries(agents).slice(0, 4))});
  t.is(fine.status, 200);
});
