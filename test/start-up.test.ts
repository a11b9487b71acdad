// The process as a user starts it (node src/main.ts): the port is bound and "listening" (with the
// pid) is logged before the threads start; a SIGHUP while it starts is kept and acted on once up,
// the latest registry file winning; the title is what `ps` shows; SIGTERM stops it.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {existsSync, mkdtempSync, readFileSync} from 'node:fs';
import {writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {createLogger} from '../src/log.ts';
import type {Registry} from '../src/registry.ts';
import {AnswerServer} from '../src/service/http-server.ts';
import {ActorPool} from '../src/threads/pool.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {modelsFile} from './helpers/models-file.ts';
import {post} from './helpers/service.ts';
import {until} from './helpers/until.ts';

/** The service in a process of its own, logging at info; its stdout lines as they come. */
async function spawnService(t: {teardown(fn: () => unknown): void}, env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  /** The first line with this message (an empty object if the process ended without it). */
  const line = (msg: string): Promise<Record<string, unknown>> =>
    until(() => lines().find((l) => l.msg === msg) ?? (child.exitCode === null ? undefined : {}));
  return {child, url: `http://127.0.0.1:${port}`, lines, line, stderr: () => err};
}

test('"listening" comes with the pid before the threads are up: /healthz 200, /readyz 503 starting, a /predict held and answered exactly; the title is agent-batcher; SIGTERM exits 0', async (t) => {
  const {child, url, line, lines} = await spawnService(t, {ACTOR_POOL_SIZE: '12'});
  const listening = await line('listening');
  t.is(listening.pid, child.pid);
  t.is(listening.address, url.replace('http://', ''));
  // Not ready yet: twelve threads start a few at a time after this line.
  t.false(lines().some((l) => l.msg === 'ready'));
  t.is((await fetch(`${url}/healthz`)).status, 200);
  const readyz = await fetch(`${url}/readyz`);
  t.true(readyz.status === 503 || lines().some((l) => l.msg === 'ready'), `readyz ${readyz.status}`);
  if (readyz.status === 503) t.deepEqual(await readyz.json(), {status: 'starting'});
  const reply = await post(`${url}/predict`, {agents: {a: {vector: [1, 2], model: 'm', agent_type: 't'}}});
  t.is(reply.status, 200);
  t.is(reply.body.results.a.prediction, predictRow(bias('m', 't'), [1, 2]));
  const ready = await line('ready');
  t.is(ready.pid, child.pid);
  t.is(ready.threads, 12);
  if (existsSync(`/proc/${child.pid}/comm`))
    t.is(readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim(), 'agent-batcher');
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  t.deepEqual(await exited, [0, null]);
});

test('a SIGHUP while the service starts is not lost and does not end it: once up, the latest registry file is served', async (t) => {
  const file = await modelsFile({models: {first: {}}});
  const {child, url, line, lines, stderr} = await spawnService(t, {ACTOR_POOL_SIZE: '12', MODELS_FILE: file});
  await line('listening');
  await writeFile(file, JSON.stringify({models: {second: {}}}));
  child.kill('SIGHUP');
  await writeFile(file, JSON.stringify({models: {latest: {vector_length: 2}}}));
  child.kill('SIGHUP');
  await waitUntilUp(`${url}/readyz`, {child, timeoutMs: 50_000, describe: stderr});
  await line('model registry reloaded');
  t.true(
    lines().some((l) => l.msg === 'SIGHUP while starting: registry read again now'),
    'the SIGHUPs came while it started',
  );
  const models = (await (await fetch(`${url}/models`)).json()) as {models: Record<string, unknown>};
  t.deepEqual(Object.keys(models.models), ['latest']);
  const reply = await post(`${url}/predict`, {agents: {a: {vector: [3, 4], model: 'latest', agent_type: 't'}}});
  t.is(reply.status, 200);
  t.is(reply.body.results.a.prediction, predictRow(bias('latest', 't'), [3, 4]));
  t.is((await post(`${url}/predict`, {agents: {a: {vector: [1], model: 'first', agent_type: 't'}}})).status, 422);
  t.is(child.exitCode, null);
});

test('before the app is served the bound port answers /healthz 200 and /readyz 503 starting, and holds every other request for the app', async (t) => {
  const http = new AnswerServer(undefined, 100);
  const address = await http.listen(0, '127.0.0.1');
  t.teardown(() => http.server.close());
  const url = `http://127.0.0.1:${address.port}`;
  const healthz = await fetch(`${url}/healthz?probe=1`);
  t.is(healthz.status, 200);
  t.deepEqual(await healthz.json(), {status: 'ok'});
  const readyz = await fetch(`${url}/readyz`);
  t.is(readyz.status, 503);
  t.deepEqual(await readyz.json(), {status: 'starting'});
  let arrived = 0;
  http.server.on('request', () => arrived++);
  let answered = false;
  const held = fetch(`${url}/predict`, {method: 'POST', body: '{"agents": {}}'}).then(async (r) => {
    answered = true;
    return [r.status, await r.text()];
  });
  const posted = fetch(`${url}/healthz`, {method: 'POST'}).then((r) => r.status);
  // Both are in the server, held: only serve() answers them.
  await until(() => arrived === 2);
  t.false(answered);
  http.serve((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => res.end(`app: ${req.method} ${req.url} ${body}`));
  });
  t.deepEqual(await held, [200, 'app: POST /predict {"agents": {}}']);
  t.is(await posted, 200);
  t.is(await (await fetch(`${url}/healthz`)).text(), 'app: GET /healthz ');
});

test('a pool starts at most startAtOnce threads at a time: the next starts when one has answered', async (t) => {
  // gated-thread.ts waits for this file before it loads the real thread.
  const gate = path.join(mkdtempSync(path.join(os.tmpdir(), 'agent-batcher-gate-')), 'open');
  process.env.AGENT_BATCHER_TEST_GATE = gate;
  const registry: Registry = {
    models: undefined,
    defaults: {
      backend: {kind: 'simulated', latencyMinMs: 0, latencyMaxMs: 0},
      batching: {maxBatchSize: 4, maxWaitMs: 5, waitFraction: 0.02, maxConcurrentBatches: 0},
    },
  };
  const pool = new ActorPool({
    size: 3,
    startAtOnce: 1,
    threadOptions: {registry, logLevel: 'silent'},
    log: createLogger('silent'),
    entry: new URL('./fixtures/gated-thread.ts', import.meta.url),
  });
  delete process.env.AGENT_BATCHER_TEST_GATE;
  t.teardown(() => pool.close());
  t.truthy(pool.workerOf(0));
  t.is(pool.workerOf(1), undefined, 'not started while the first has not answered');
  t.is(pool.workerOf(2), undefined);
  // The later threads start after the variable is gone: they do not wait for the gate.
  await writeFile(gate, '');
  await pool.ready();
  t.truthy(pool.workerOf(1));
  t.truthy(pool.workerOf(2));
  t.is((await pool.stats()).length, 3);
});
