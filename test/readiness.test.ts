import test from 'ava';
import {setTimeout as sleep} from 'node:timers/promises';
import {loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {Service} from '../src/service.ts';
import {post, testEnv} from './helpers/service.ts';

test('while its threads start, the service is live but not ready, and /predict answers 503 not_ready', async (t) => {
  const service = new Service(loadConfig(testEnv), createLogger('silent'), {workerEntry: new URL('./fixtures/slow-host.ts', import.meta.url)});
  t.teardown(() => service.shutdown());
  const started = service.start();
  while (!service.server.listening) await sleep(5);
  const url = `http://127.0.0.1:${(service.server.address() as {port: number}).port}`;

  t.is((await fetch(`${url}/healthz`)).status, 200);
  const ready = await fetch(`${url}/readyz`);
  t.is(ready.status, 503);
  t.deepEqual(await ready.json(), {status: 'starting'});
  const early = await post(`${url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  t.is(early.status, 503);
  t.is(early.body.error.code, 'not_ready');
  t.truthy(early.headers.get('retry-after'));

  await started;
  t.is((await fetch(`${url}/readyz`)).status, 200);
  t.is((await post(`${url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}})).status, 200);
});
