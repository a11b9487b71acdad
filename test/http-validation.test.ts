import test from 'ava';
import http from 'node:http';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';
import type {Running} from './helpers/service.ts';

let running: Running;
test.before(async () => {
  running = await startService({MAX_AGENTS_PER_REQUEST: '4', MAX_VECTOR_LENGTH: '8', MAX_BODY_BYTES: '2048'});
});
test.after.always(() => running?.close());

const agent = (o: Record<string, unknown> = {}) => ({vector: [1, 2], model: 'm1', agent_type: 't1', ...o});

/** Sends raw bytes with exactly the given headers (fetch would fix some of them up). */
function raw(body: string, headers: Record<string, string>, method = 'POST', path = '/predict') {
  return new Promise<{status: number; headers: http.IncomingHttpHeaders; body: any}>((resolve, reject) => {
    const req = http.request(`${running.url}${path}`, {method, headers}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined}),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const expectError = async (t: any, reply: {status: number; body: any}, status: number, code: string) => {
  t.is(reply.status, status, JSON.stringify(reply.body));
  t.is(reply.body.error.code, code);
  t.is(typeof reply.body.error.message, 'string');
};

test.serial('a body that is not JSON is 400 invalid_json', async (t) => {
  await expectError(t, await post(`${running.url}/predict`, '{"agents": '), 400, 'invalid_json');
  await expectError(t, await post(`${running.url}/predict`, 'nope'), 400, 'invalid_json');
});

test.serial('JSON that is not an object (null, 3, "x", []) is 422, not invalid_json', async (t) => {
  for (const body of ['null', '3', '"x"', '[]', 'true']) {
    await expectError(t, await post(`${running.url}/predict`, body), 422, 'validation_error');
  }
});

test.serial(
  'a body that is not valid UTF-8 is 400, so two different ids can never merge into one; an empty body is 400',
  async (t) => {
    const bytes = Buffer.concat([
      Buffer.from('{"agents": {"a'),
      Buffer.from([0xff]),
      Buffer.from('": {"vector": [1], "model": "m", "agent_type": "t"}, "a'),
      Buffer.from([0xfe]),
      Buffer.from('": {"vector": [2], "model": "m", "agent_type": "t"}}}'),
    ]);
    const reply = await fetch(`${running.url}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: bytes,
    });
    t.is(reply.status, 400);
    t.like(await reply.json(), {error: {code: 'invalid_json', message: 'request body is not valid UTF-8'}});
    const snowman = await post(`${running.url}/predict`, {agents: {'☃ \ufffd': agent()}});
    t.is(snowman.status, 200, 'valid UTF-8, U+FFFD included, is fine');
    t.truthy(snowman.body.results['☃ \ufffd'].prediction);
    await expectError(t, await post(`${running.url}/predict`, ''), 400, 'invalid_json');
  },
);

test.serial('a charset other than UTF-8 is 415', async (t) => {
  const reply = await post(`${running.url}/predict`, '{"agents": {}}', {
    'content-type': 'application/json; charset=latin1',
  });
  await expectError(t, reply, 415, 'unsupported_media_type');
  const utf8 = await post(`${running.url}/predict`, JSON.stringify({agents: {a: agent()}}), {
    'content-type': 'application/json; charset=UTF-8',
  });
  t.is(utf8.status, 200);
});

test.serial('a body over MAX_BODY_BYTES is 413 payload_too_large', async (t) => {
  const big = JSON.stringify({agents: {a: agent()}, padding: 'x'.repeat(4096)});
  await expectError(t, await post(`${running.url}/predict`, big), 413, 'payload_too_large');
});

test.serial('a body that is not application/json is 415 unsupported_media_type', async (t) => {
  const body = JSON.stringify({agents: {a: agent()}});
  await expectError(t, await raw(body, {'content-type': 'text/plain'}), 415, 'unsupported_media_type');
  await expectError(t, await raw(body, {}), 415, 'unsupported_media_type');
});

test.serial('schema violations are 422 validation_error with the path of each bad field', async (t) => {
  const reply = await post(`${running.url}/predict`, {agents: {'scout-1': agent({vector: [1, 'x', 3, null]})}});
  await expectError(t, reply, 422, 'validation_error');
  t.deepEqual(
    reply.body.error.details.map((d: any) => d.path),
    ['agents.scout-1.vector.1', 'agents.scout-1.vector.3'],
  );
});

test.serial('1e400 (Infinity once parsed) is refused', async (t) => {
  const reply = await post(
    `${running.url}/predict`,
    '{"agents": {"a": {"vector": [1, 1e400], "model": "m", "agent_type": "t"}}}',
  );
  await expectError(t, reply, 422, 'validation_error');
  t.is(reply.body.error.details[0].path, 'agents.a.vector.1');
});

test.serial('empty agents, agents of the wrong type and missing fields are refused', async (t) => {
  for (const body of [
    {agents: {}},
    {agents: []},
    {agents: 'x'},
    {},
    [],
    {agents: {a: 1}},
    {agents: {a: {vector: [1]}}},
  ]) {
    await expectError(t, await post(`${running.url}/predict`, body), 422, 'validation_error');
  }
  await expectError(
    t,
    await post(`${running.url}/predict`, {agents: {a: agent({vector: []})}}),
    422,
    'validation_error',
  );
  await expectError(
    t,
    await post(`${running.url}/predict`, {agents: {a: agent({vector: 5})}}),
    422,
    'validation_error',
  );
  await expectError(t, await post(`${running.url}/predict`, {agents: {'': agent()}}), 422, 'validation_error');
  await expectError(
    t,
    await post(`${running.url}/predict`, {agents: {['x'.repeat(257)]: agent()}}),
    422,
    'validation_error',
  );
});

test.serial('too many agents and too long a vector are refused with the limit in the message', async (t) => {
  const five = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, agent()]));
  const reply = await post(`${running.url}/predict`, {agents: five});
  await expectError(t, reply, 422, 'validation_error');
  t.regex(reply.body.error.details[0].message, /at most 4/);
  const long = await post(`${running.url}/predict`, {agents: {a: agent({vector: [1, 2, 3, 4, 5, 6, 7, 8, 9]})}});
  await expectError(t, long, 422, 'validation_error');
  t.is(long.body.error.details[0].path, 'agents.a.vector');
});

test.serial('bad model and agent type names are refused', async (t) => {
  for (const model of ['', '-lead', 'has space', 'new\nline', 'x'.repeat(129), 7]) {
    const reply = await post(`${running.url}/predict`, {agents: {a: agent({model})}});
    await expectError(t, reply, 422, 'validation_error');
    t.is(reply.body.error.details[0].path, 'agents.a.model');
  }
  await expectError(
    t,
    await post(`${running.url}/predict`, {agents: {a: agent({agent_type: 'ü'})}}),
    422,
    'validation_error',
  );
});

test.serial('a bad X-Request-Timeout-Ms is refused', async (t) => {
  const reply = await post(`${running.url}/predict`, {agents: {a: agent()}}, {'x-request-timeout-ms': 'soon'});
  await expectError(t, reply, 422, 'validation_error');
  t.is(reply.body.error.details[0].path, 'headers.x-request-timeout-ms');
});

test.serial('unknown routes are 404 and wrong methods 405 with Allow', async (t) => {
  await expectError(t, await raw('', {}, 'GET', '/nope'), 404, 'not_found');
  const wrong = await raw('', {}, 'GET', '/predict');
  await expectError(t, wrong, 405, 'method_not_allowed');
  t.is(wrong.headers.allow, 'POST');
});

test.serial('X-Request-Id is echoed when sane and replaced otherwise', async (t) => {
  const echoed = await post(`${running.url}/predict`, {agents: {a: agent()}}, {'x-request-id': 'abc-123'});
  t.is(echoed.headers.get('x-request-id'), 'abc-123');
  t.is(echoed.body.request_id, 'abc-123');
  const replaced = await post(`${running.url}/predict`, {agents: {a: agent()}}, {'x-request-id': 'bad id <script>'});
  t.regex(replaced.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
});

test.serial('extra fields are ignored and odd but valid agent ids are kept', async (t) => {
  const body =
    '{"agents": {"__proto__": {"vector": [1, 2], "model": "m1", "agent_type": "t1", "note": "x"}, "constructor": {"vector": [3], "model": "m1", "agent_type": "t1"}}, "extra": true}';
  const reply = await post(`${running.url}/predict`, body);
  t.is(reply.status, 200);
  const results = JSON.parse(JSON.stringify(reply.body.results));
  t.deepEqual(Object.keys(results).sort(), ['__proto__', 'constructor']);
  t.is(reply.body.results.constructor.prediction, predictRow(bias('m1', 't1'), [3]));
});

test.serial('after all the bad input the service still answers correctly', async (t) => {
  const reply = await post(`${running.url}/predict`, {
    agents: {a: agent({vector: [0.5, -1.25, 3]}), b: agent({model: 'm2', vector: [1]})},
  });
  t.is(reply.status, 200);
  t.false(reply.body.errors);
  t.is(reply.body.results.a.prediction, predictRow(bias('m1', 't1'), [0.5, -1.25, 3]));
  t.is(reply.body.results.b.prediction, predictRow(bias('m2', 't1'), [1]));
  t.is(running.service.coordinator.stats.liveParts, 0);
});
