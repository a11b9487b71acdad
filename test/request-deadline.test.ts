// The request deadline through the service: REQUEST_TIMEOUT_MS, lowered (never raised) by
// X-Request-Timeout-Ms; past it every agent without an outcome is deadline_exceeded.

import test from 'ava';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

const body = {
  agents: {
    a: {vector: [1, 2], model: 'slow', agent_type: 't'},
    b: {vector: [3], model: 'slow', agent_type: 'u'},
  },
};

test('a backend slower than the deadline gives every agent deadline_exceeded and 504, near the deadline', async (t) => {
  const running = await startService({
    BACKEND_LATENCY_MIN_MS: '1500',
    BACKEND_LATENCY_MAX_MS: '1600',
    REQUEST_TIMEOUT_MS: '200',
  });
  t.teardown(() => running.close());
  const started = Date.now();
  const reply = await post(`${running.url}/predict`, body);
  const elapsed = Date.now() - started;
  t.is(reply.status, 504);
  t.true(reply.body.errors);
  t.is(reply.body.results.a.error.code, 'deadline_exceeded');
  t.is(reply.body.results.b.error.code, 'deadline_exceeded');
  t.true(elapsed >= 195, `answered after ${elapsed} ms, not before the deadline`);
  t.true(elapsed < 1200, `answered at the deadline (${elapsed} ms), not when the backend finished`);

  // The late batch comes back and is dropped quietly: nothing stays pending.
  t.is(running.service.coordinator.stats.openRequests, 0);
  await sleep(1800);
  t.is(running.service.coordinator.stats.liveParts, 0);
});

test('X-Request-Timeout-Ms lowers the deadline but cannot raise it', async (t) => {
  const running = await startService({
    BACKEND_LATENCY_MIN_MS: '300',
    BACKEND_LATENCY_MAX_MS: '300',
    REQUEST_TIMEOUT_MS: '5000',
  });
  t.teardown(() => running.close());
  const lowered = await post(`${running.url}/predict`, body, {'x-request-timeout-ms': '50'});
  t.is(lowered.status, 504);
  const ok = await post(`${running.url}/predict`, body, {'x-request-timeout-ms': '999999'});
  t.is(ok.status, 200);
  t.is(ok.body.results.a.prediction, predictRow(bias('slow', 't'), [1, 2]));
});
