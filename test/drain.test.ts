import test from 'ava';
import {once} from 'node:events';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startAsImage} from '../scripts/docker-cmd.ts';
import {post} from './helpers/service.ts';
import {metric, until} from './helpers/until.ts';

/** True once the service no longer says ready (503 draining, or the port closed). */
const notReady = (url: string) =>
  fetch(`${url}/readyz`).then(
    (r) => r.status !== 200,
    () => true,
  );

test('SIGTERM with 200 requests open: all answered correctly, late requests refused, exit 0 before SHUTDOWN_TIMEOUT_MS', async (t) => {
  const {child, url, stderr} = await startAsImage({
    BACKEND_LATENCY_MIN_MS: '400',
    BACKEND_LATENCY_MAX_MS: '600',
    MAX_WAIT_MS: '10000', // only the drain can cut these batches in time
    SHUTDOWN_TIMEOUT_MS: '5000',
    ACTOR_POOL_SIZE: '2',
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');

  const models = ['m1', 'm2', 'm3'];
  const requests = Array.from({length: 200}, (_, c) => ({
    agents: {[`c${c}`]: {vector: [c, 1], model: models[c % 3], agent_type: 't'}},
  }));
  const replies = Promise.all(requests.map((body) => post(`${url}/predict`, body)));
  // All 200 are admitted and waiting in their mailboxes (MAX_WAIT_MS holds their batches open).
  await until(async () => (await metric(url, 'agent_batcher_open_requests')) === 200);

  child.kill('SIGTERM');
  await until(() => notReady(url));
  const late = await post(`${url}/predict`, requests[0]).then(
    (r) => `HTTP ${r.status} ${r.body?.error?.code}`,
    (e: Error & {cause?: {code?: string}}) => `refused: ${e.cause?.code ?? e.message}`,
  );
  t.regex(late, /HTTP 503 not_ready|refused/, late);

  // Every answer computed, none `shutting_down`: the drain cut the batches and they finished
  // before SHUTDOWN_TIMEOUT_MS (MAX_WAIT_MS alone would have held them past it).
  const answered = await replies;
  answered.forEach((reply, c) => {
    t.is(reply.status, 200, `client ${c}`);
    t.is(reply.body.results[`c${c}`].prediction, predictRow(bias(models[c % 3], 't'), [c, 1]));
  });
  const [code] = await exited;
  t.is(code, 0, stderr());
  t.log(`200 open requests answered; late request: ${late}; exit 0`);
});

test('a drain that outlasts SHUTDOWN_TIMEOUT_MS answers shutting_down and still exits 0', async (t) => {
  const {child, url} = await startAsImage({
    // Far longer than the drain may wait, however slow the machine: only shutting_down can answer.
    BACKEND_LATENCY_MIN_MS: '20000',
    BACKEND_LATENCY_MAX_MS: '20000',
    MAX_WAIT_MS: '1',
    SHUTDOWN_TIMEOUT_MS: '300',
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  const reply = post(`${url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  await until(async () => (await metric(url, 'agent_batcher_open_requests')) === 1);
  child.kill('SIGTERM');
  const answered = await reply;
  t.is(answered.status, 502);
  t.is(answered.body.results.a.error.code, 'shutting_down');
  const [code] = await exited;
  t.is(code, 0);
});
