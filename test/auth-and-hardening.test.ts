import test from 'ava';
import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {loadConfig} from '../src/config.ts';
import {createLogger} from '../src/log.ts';
import {loadRegistry} from '../src/registry.ts';
import {createApp} from '../src/http/app.ts';
import type {Coordinator} from '../src/coordinator/coordinator.ts';
import {Metrics} from '../src/metrics/metrics.ts';
import {post, startService, testEnv} from './helpers/service.ts';

const body = {agents: {a: {vector: [1, 2], model: 'm', agent_type: 't'}}};

test('with API_KEYS set, /predict needs a valid bearer key; infrastructure routes stay open; keys never reach the logs', async (t) => {
  const lines: string[] = [];
  const log = createLogger('trace', {write: (line: string) => lines.push(line)});
  const running = await startService({API_KEYS: 'first-secret-key,second-secret-key', LOG_LEVEL: 'trace'}, log);
  t.teardown(() => running.close());

  const attempts: Record<string, string>[] = [
    {},
    {authorization: 'Bearer wrong-key'},
    {authorization: 'Basic Zmlyc3Qtc2VjcmV0LWtleQ=='},
    {authorization: 'Bearer first-secret-key-and-more'},
    {authorization: 'Bearer '},
  ];
  for (const headers of attempts) {
    const reply = await post(`${running.url}/predict`, body, headers);
    t.is(reply.status, 401, JSON.stringify(headers));
    t.is(reply.body.error.code, 'unauthorized');
    t.regex(reply.headers.get('www-authenticate')!, /^Bearer/);
  }
  for (const key of ['first-secret-key', 'second-secret-key']) {
    const reply = await post(`${running.url}/predict`, body, {authorization: `Bearer ${key}`});
    t.is(reply.status, 200, key);
  }
  for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
    t.is((await fetch(`${running.url}${path}`)).status, 200, path);

  t.true(lines.length > 5);
  t.false(
    lines.some((l) => l.includes('secret-key')),
    'no log line holds a key',
  );
});

test('every response carries the security headers', async (t) => {
  const running = await startService();
  t.teardown(() => running.close());
  for (const path of ['/healthz', '/predict', '/nope']) {
    const response = await fetch(`${running.url}${path}`);
    t.is(response.headers.get('x-content-type-options'), 'nosniff', path);
    t.is(response.headers.get('x-frame-options'), 'DENY', path);
    t.truthy(response.headers.get('content-security-policy'), path);
    t.is(response.headers.get('cache-control'), 'no-store', path);
  }
});

test('an internal error answers 500 internal_error with the request id and no stack; the log has the stack', async (t) => {
  const lines: string[] = [];
  const log = createLogger('info', {write: (line: string) => lines.push(line)});
  const config = loadConfig(testEnv);
  const broken = {
    submit: () => {
      throw new Error('kaboom: internal detail');
    },
  } as unknown as Coordinator;
  const metrics = new Metrics(
    {threadStats: async () => [], restarts: () => 0, openRequests: () => 0},
    {maxBatchSize: 32, maxKeys: 32},
  );
  const app = createApp({
    config,
    coordinator: broken,
    log,
    metrics,
    version: 'test',
    readiness: () => 'ready',
    started: async () => {},
    registry: () => loadRegistry(config),
  });
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const reply = await post(`${url}/predict`, body, {'x-request-id': 'req-500'});
  t.is(reply.status, 500);
  t.deepEqual(reply.body, {error: {code: 'internal_error', message: 'internal error; request id req-500'}});
  t.false(JSON.stringify(reply.body).includes('kaboom'));
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unhandled error');
  t.is(logged.requestId, 'req-500');
  t.regex(logged.err.stack, /kaboom: internal detail\n\s+at /);
});
