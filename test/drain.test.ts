import test from 'ava';
import {once} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startAsImage} from '../scripts/docker-cmd.ts';
import {post} from './helpers/service.ts';

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
  await sleep(500); // all 200 are admitted and waiting in their mailboxes

  const signalled = Date.now();
  child.kill('SIGTERM');
  await sleep(100);
  const late = await post(`${url}/predict`, requests[0]).then(
    (r) => `HTTP ${r.status} ${r.body?.error?.code}`,
    (e: Error & {cause?: {code?: string}}) => `refused: ${e.cause?.code ?? e.message}`,
  );
  t.regex(late, /HTTP 503 not_ready|refused/, late);

  const answered = await replies;
  answered.forEach((reply, c) => {
    t.is(reply.status, 200, `client ${c}`);
    t.is(reply.body.results[`c${c}`].prediction, predictRow(bias(models[c % 3], 't'), [c, 1]));
  });
  const [code] = await exited;
  const took = Date.now() - signalled;
  t.is(code, 0, stderr());
  t.true(took < 5000, `drained in ${took} ms, before SHUTDOWN_TIMEOUT_MS`);
  t.log(`200 open requests answered; late request: ${late}; exit 0 after ${took} ms`);
});

test('a drain that outlasts SHUTDOWN_TIMEOUT_MS answers shutting_down and still exits 0', async (t) => {
  const {child, url} = await startAsImage({
    BACKEND_LATENCY_MIN_MS: '3000',
    BACKEND_LATENCY_MAX_MS: '3000',
    MAX_WAIT_MS: '1',
    SHUTDOWN_TIMEOUT_MS: '300',
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  const reply = post(`${url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  await sleep(200);
  child.kill('SIGTERM');
  const answered = await reply;
  t.is(answered.status, 502);
  t.is(answered.body.results.a.error.code, 'shutting_down');
  const [code] = await exited;
  t.is(code, 0);
});
