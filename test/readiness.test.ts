import test from 'ava';
import {spawn} from 'node:child_process';
import http from 'node:http';
import {once} from 'node:events';
import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {Service} from '../src/service/service.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {ThreadStartError} from '../src/threads/pool.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {parsePrometheus, total} from './helpers/prom-text.ts';
import {post, testEnv} from './helpers/service.ts';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

/**
 * A service whose threads run `entry`, listening (started, not awaited), with its URL; with
 * gated-thread.ts its threads start only when open() is called.
 */
async function starting(t: {teardown(fn: () => unknown): void}, entry: string, env: Record<string, string> = {}) {
  const gate = path.join(await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-gate-')), 'open');
  // The Service starts its threads in its constructor, each with a copy of this environment.
  process.env.AGENT_BATCHER_TEST_GATE = gate;
  const service = new Service(loadConfig({...testEnv, ...env}), createLogger('silent'), {workerEntry: fixture(entry)});
  delete process.env.AGENT_BATCHER_TEST_GATE;
  t.teardown(() => service.shutdown());
  const started = service.start();
  started.catch(() => {});
  while (!service.server.listening) await sleep(5);
  const url = `http://127.0.0.1:${(service.server.address() as {port: number}).port}`;
  return {service, started, url, open: () => writeFile(gate, '')};
}

test('while its threads start the service is live, not ready, and holds every /predict until they are up: each answered once, exactly', async (t) => {
  const {started, url, open} = await starting(t, 'gated-thread.ts');
  t.is((await fetch(`${url}/healthz`)).status, 200);
  const ready = await fetch(`${url}/readyz`);
  t.is(ready.status, 503);
  t.deepEqual(await ready.json(), {status: 'starting'});

  const sent = Array.from({length: 50}, (_, c) => ({a: {vector: [c, 1], model: 'm', agent_type: `t${c % 3}`}}));
  const replies = Promise.all(sent.map((agents) => post(`${url}/predict`, {agents})));
  await sleep(100);
  t.is((await fetch(`${url}/readyz`)).status, 503, 'held, not answered');
  await open();
  await started;
  t.is((await fetch(`${url}/readyz`)).status, 200);
  for (const [c, reply] of (await replies).entries()) {
    t.is(reply.status, 200, `client ${c}`);
    t.deepEqual(Object.keys(reply.body.results), ['a']);
    t.is(reply.body.results.a.prediction, predictRow(bias('m', `t${c % 3}`), [c, 1]), `client ${c}`);
  }
});

test('attack: clients that send a request while the threads start and leave are never dispatched; the held clients beside them get exact answers', async (t) => {
  const {service, started, url, open} = await starting(t, 'gated-thread.ts');
  // The server's side of each request, to know when all have arrived and when the attackers' are gone.
  const arrived: http.IncomingMessage[] = [];
  service.server.on('request', (req: http.IncomingMessage) => arrived.push(req));
  const leaving = Array.from({length: 20}, (_, c) => {
    const req = http.request(`${url}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json', 'x-request-id': `attacker-${c}`},
    });
    req.on('error', () => {});
    req.end(JSON.stringify({agents: {x: {vector: [c], model: 'attacker', agent_type: 't'}}}));
    return req;
  });
  const normal = Array.from({length: 20}, (_, c) =>
    post(`${url}/predict`, {agents: {a: {vector: [c, 3], model: 'm', agent_type: 'u'}}}),
  );
  while (arrived.length < 40) await sleep(10);
  for (const req of leaving) req.destroy();
  const attackers = arrived.filter((req) => String(req.headers['x-request-id']).startsWith('attacker-'));
  while (!attackers.every((req) => req.destroyed)) await sleep(10);
  t.is((await fetch(`${url}/readyz`)).status, 503, 'all of it happened while the threads were starting');
  await open();
  await started;
  for (const [c, reply] of (await Promise.all(normal)).entries()) {
    t.is(reply.status, 200);
    t.is(reply.body.results.a.prediction, predictRow(bias('m', 'u'), [c, 3]));
  }
  t.is(service.coordinator.threadOf('t', 'attacker'), undefined, 'no agent of a client that left reached a mailbox');
  const agents = total(parsePrometheus(await (await fetch(`${url}/metrics`)).text()), 'agent_batcher_agents_total');
  t.is(agents, 20, 'only the 20 held clients that stayed were served');
});

test('a /predict held while the threads start gets 503 not_ready when its deadline passes first', async (t) => {
  const {url} = await starting(t, 'gated-thread.ts');
  const reply = await post(
    `${url}/predict`,
    {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}},
    {'x-request-timeout-ms': '50'},
  );
  t.is(reply.status, 503);
  t.is(reply.body.error.code, 'not_ready');
  t.regex(reply.body.error.message, /starting.*deadline/);
  t.is(reply.headers.get('retry-after'), '1');
});

test('a /predict held while the threads start gets 503 not_ready when the service drains instead', async (t) => {
  const {service, url} = await starting(t, 'gated-thread.ts');
  const arrived = once(service.server, 'request');
  const held = post(`${url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  await arrived;
  await sleep(50);
  await service.shutdown();
  const reply = await held;
  t.is(reply.status, 503);
  t.is(reply.body.error.code, 'not_ready');
  t.is(reply.body.error.message, 'service is shutting down');
});

test('a thread that never answers keeps the service live and not ready, past the 5 s the pool used to allow, and never ends it', async (t) => {
  const {service, started, url} = await starting(t, 'gated-thread.ts', {ACTOR_POOL_SIZE: '1'}); // never opened
  let settled = false;
  void started.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(5500);
  t.false(settled, 'start() neither resolved nor gave up');
  t.is((await fetch(`${url}/healthz`)).status, 200);
  t.is((await fetch(`${url}/readyz`)).status, 503);
  t.deepEqual(
    await service.pool.stats(200),
    [{actors: 0, pending: 0, inflight: 0, keys: []}],
    'a starting thread is not waited for by /metrics',
  );
  await service.shutdown();
  await started;
});

test('a thread whose module throws at start fails start() with one line naming the thread and the error', async (t) => {
  const {started} = await starting(t, 'crashing-thread.ts', {ACTOR_POOL_SIZE: '2'});
  const error = await t.throwsAsync(started, {instanceOf: ThreadStartError});
  t.regex(error!.message, /^actor thread [01] could not start: Error: fixture: this actor thread always crashes$/);
});

test('ACTOR_POOL_SIZE=32 on 2 cores (it used to exit after 10 s on a loaded machine): the process waits for its threads, then serves; SIGTERM exits 0', async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {...process.env, ...testEnv, PORT: String(port), ACTOR_POOL_SIZE: '32'},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  t.teardown(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}/readyz`, {child, timeoutMs: 120_000, describe: () => stderr});
  const replies = await Promise.all(
    Array.from({length: 64}, (_, c) =>
      post(`${url}/predict`, {agents: {a: {vector: [c, 2], model: `m${c}`, agent_type: 't'}}}),
    ),
  );
  for (const [c, reply] of replies.entries())
    t.is(reply.body.results.a.prediction, predictRow(bias(`m${c}`, 't'), [c, 2]));
  child.kill('SIGTERM');
  t.deepEqual(await exited, [0, null]);
});
