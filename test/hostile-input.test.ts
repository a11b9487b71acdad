// Property-based: thousands of generated malformed or hostile bodies and headers against the real
// HTTP server. Every answer must be a documented status with the documented body shape; the
// service must never answer 500, never crash, and still answer a valid request correctly after.

import test from 'ava';
import http from 'node:http';
import fc from 'fast-check';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';
import type {Running} from './helpers/service.ts';

let running: Running;
let tried = 0;
const statuses = new Map<number, number>();
test.before(async () => {
  running = await startService({
    BACKEND_LATENCY_MIN_MS: '0',
    BACKEND_LATENCY_MAX_MS: '2',
    MAX_WAIT_MS: '1',
    MAX_BODY_BYTES: '65536',
    MAX_AGENTS_PER_REQUEST: '16',
    MAX_VECTOR_LENGTH: '64',
  });
});
test.after.always(() => running?.close());

const errorCodes: Record<number, string[]> = {
  400: ['invalid_json'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  422: ['validation_error'],
};

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(body: string | Buffer, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${running.url}/predict`, {method: 'POST', headers, agent: false}, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({status: res.statusCode!, headers: res.headers, text}));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The contract's shapes: an error body for 4xx, a full result map for 200/502/504. */
function checkAnswer(reply: Raw, sentAgents?: string[]): void {
  tried++;
  statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  const body = JSON.parse(reply.text);
  if (errorCodes[reply.status]) {
    if (!errorCodes[reply.status].includes(body?.error?.code) || typeof body.error.message !== 'string') {
      throw new Error(`undocumented ${reply.status} body: ${reply.text.slice(0, 300)}`);
    }
    if (
      body.error.details !== undefined &&
      !body.error.details.every((d: any) => typeof d.path === 'string' && typeof d.message === 'string')
    ) {
      throw new Error(`bad details: ${reply.text.slice(0, 300)}`);
    }
    return;
  }
  // A valid request may still fail per agent (e.g. a 1 ms X-Request-Timeout-Ms): 502/504, same body.
  if (reply.status === 200 || reply.status === 502 || reply.status === 504) {
    if (typeof body.request_id !== 'string' || typeof body.errors !== 'boolean')
      throw new Error(`bad ${reply.status} body ${reply.text}`);
    if (reply.status !== 200 && !body.errors) throw new Error(`${reply.status} without errors: ${reply.text}`);
    if (sentAgents && JSON.stringify(Object.keys(body.results).sort()) !== JSON.stringify([...sentAgents].sort())) {
      throw new Error(`results do not match the agents sent: ${reply.text.slice(0, 300)}`);
    }
    return;
  }
  throw new Error(`status ${reply.status} is not a documented answer to bad input: ${reply.text.slice(0, 300)}`);
}

const json = {'content-type': 'application/json'};
const weirdString = fc.oneof(
  fc.string({unit: 'binary', maxLength: 40}),
  fc.string({unit: 'grapheme', maxLength: 40}),
  fc.constantFrom(
    '',
    '__proto__',
    'constructor',
    'prototype',
    '\u0000',
    '\n',
    '../../etc',
    'a'.repeat(300),
    '🙂',
    '\uD800',
  ),
);
const weirdNumber = fc.oneof(
  fc.double(),
  fc.constantFrom('1e400', '-1e400', '1e-400', '-0', '0.1e999999', '123456789012345678901234567890'),
);
const vectorText = fc
  .array(weirdNumber, {maxLength: 70})
  .map((xs) => `[${xs.map((x) => (typeof x === 'number' ? (Number.isFinite(x) ? String(x) : 'null') : x)).join(',')}]`);
const nameLike = fc.oneof(fc.constantFrom('m', 'scout', 'gpt-mini', 'a/b:c.d_e'), weirdString);
const agentText = fc
  .record({
    vector: fc.oneof(
      vectorText,
      fc.jsonValue({maxDepth: 2}).map((v) => JSON.stringify(v)),
    ),
    model: fc.oneof(
      nameLike.map((s) => JSON.stringify(s)),
      fc.jsonValue({maxDepth: 1}).map((v) => JSON.stringify(v)),
    ),
    agent_type: nameLike.map((s) => JSON.stringify(s)),
  })
  .map((a) => `{"vector":${a.vector},"model":${a.model},"agent_type":${a.agent_type}}`);
const requestText = fc
  .array(fc.tuple(weirdString, agentText), {maxLength: 20})
  .map((entries) => `{"agents":{${entries.map(([id, a]) => `${JSON.stringify(id)}:${a}`).join(',')}}}`);

test.serial('arbitrary JSON values as bodies get documented answers', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({maxDepth: 5}), async (value) => {
      checkAnswer(await send(JSON.stringify(value) ?? 'null', json));
    }),
    {numRuns: 300},
  );
  t.pass();
});

test.serial('hostile agent maps (ids, names, numbers, duplicates, huge values) get documented answers', async (t) => {
  await fc.assert(
    fc.asyncProperty(requestText, fc.boolean(), async (text, duplicate) => {
      // A duplicate key: JSON.parse keeps the last one, and so must the answer.
      const body = duplicate
        ? text.replace(
            '{"agents":{',
            '{"agents":{"dup":{"vector":[1],"model":"m","agent_type":"t"},"dup":{"vector":[2],"model":"m","agent_type":"t"},',
          )
        : text;
      const reply = await send(body, json);
      let sent: string[] | undefined;
      try {
        sent = Object.keys(JSON.parse(body).agents);
      } catch {
        sent = undefined;
      }
      checkAnswer(reply, sent);
    }),
    {numRuns: 400},
  );
  t.pass();
});

test.serial('truncated JSON, deep nesting and binary garbage are 400 or 4xx, never 500', async (t) => {
  const valid =
    '{"agents":{"a":{"vector":[1,2,3],"model":"m","agent_type":"t"},"b":{"vector":[4],"model":"m","agent_type":"t"}}}';
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.nat({max: valid.length - 1}).map((n) => valid.slice(0, n)),
        fc.integer({min: 1, max: 60_000}).map((n) => '['.repeat(n) + ']'.repeat(n)),
        fc.integer({min: 1, max: 30_000}).map((n) => '{"agents":'.repeat(n)),
        fc.uint8Array({maxLength: 200}).map((b) => Buffer.from(b)),
      ),
      async (body) => checkAnswer(await send(body, json)),
    ),
    {numRuns: 200},
  );
  t.pass();
});

test.serial('wrong content types, odd headers and giant declared lengths get documented answers', async (t) => {
  const valid = '{"agents":{"a":{"vector":[1],"model":"m","agent_type":"t"}}}';
  const printable = fc.string({
    unit: fc.integer({min: 0x20, max: 0x7e}).map((c) => String.fromCharCode(c)),
    maxLength: 200,
  });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-16',
        'application/jsonx',
        '*/*',
        'application/json',
      ),
      printable,
      fc.oneof(fc.constant(undefined), printable, fc.nat().map(String)),
      fc.boolean(),
      async (type, requestId, timeout, giant) => {
        const headers: Record<string, string> = {'content-type': type, 'x-request-id': requestId};
        if (timeout !== undefined) headers['x-request-timeout-ms'] = timeout;
        if (giant) headers['content-length'] = '99999999999';
        let reply: Raw;
        try {
          reply = await send(giant ? '' : valid, headers);
        } catch (error) {
          // The server may hang up on a body it refused to wait for: acceptable, not a crash.
          if (giant) return;
          throw error;
        }
        if (reply.status === 422) {
          if (!/x-request-timeout-ms/.test(reply.text)) throw new Error(`unexpected 422: ${reply.text}`);
          return checkAnswer(reply);
        }
        checkAnswer(reply);
        const echoed = reply.headers['x-request-id'] as string;
        if (/^[A-Za-z0-9._-]{1,128}$/.test(requestId) ? echoed !== requestId : echoed === requestId) {
          throw new Error(`X-Request-Id ${JSON.stringify(requestId)} answered as ${echoed}`);
        }
      },
    ),
    {numRuns: 250},
  );
  t.pass();
});

test.serial('after every hostile input the service still answers a valid request correctly', async (t) => {
  t.true(tried >= 1000, `${tried} hostile inputs tried`);
  t.log(`${tried} hostile inputs tried; answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.true(
    (statuses.get(422) ?? 0) > 100 && (statuses.get(400) ?? 0) > 50,
    'the generators reach the validator and the parser',
  );
  const reply = await post(`${running.url}/predict`, {
    agents: {ok: {vector: [0.5, -1.25, 3], model: 'resnet-50', agent_type: 'scout'}},
  });
  t.is(reply.status, 200);
  t.is(reply.body.results.ok.prediction, predictRow(bias('resnet-50', 'scout'), [0.5, -1.25, 3]));
  t.is(running.service.coordinator.stats.liveParts, 0);
});
