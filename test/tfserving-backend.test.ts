// The TensorFlow Serving client (workers/backend/tfserving.ts) against the stand-in behind the
// recording, fault-injecting proxy, written from TF Serving's REST API page (api_rest.md):
// the Predict API's row format, its error object, and its JSON conformance (NaN, Infinity).

import test from 'ava';
import {once} from 'node:events';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {TfServingBackendOptions} from '../src/config.ts';
import {BackendError} from '../workers/backend/backend.ts';
import type {BackendCall, BackendReply} from '../workers/backend/backend.ts';
import {decodePredictions, tfServingClient} from '../workers/backend/tfserving.ts';
import {parseJsonReply, replyBounds} from '../workers/backend/json-wire.ts';
import {served, startModelServer} from './helpers/model-server.ts';
import type {ModelServer} from './helpers/model-server.ts';

let server: ModelServer;
test.before(async () => {
  server = await startModelServer();
});
test.after.always(() => server.close());

const options = (model: string, version?: string): TfServingBackendOptions => ({
  kind: 'tfserving',
  url: server.url,
  model,
  version,
  timeoutMs: 2000,
  retries: 2,
  maxReplyBytes: 1 << 20,
});

const call = (rows: number[][]): BackendCall => ({
  model: 'ranker',
  agentType: 'scout',
  rows: rows.map((r) => Float64Array.from(r)),
  deadline: Date.now() + 5000,
  batchId: 'b-tf-1',
});

async function predict(o: TfServingBackendOptions, rows: number[][]): Promise<BackendReply> {
  const backend = tfServingClient(o);
  try {
    return await backend.predict(call(rows));
  } finally {
    await backend.close();
  }
}

const rows = [
  [1, 2, 3],
  [0.5, -0.25, 8],
];

test('row format: {"instances": [[…], …]} to :predict, one-element predictions [[p], …] read as p', async (t) => {
  const reply = await predict(options('ranker'), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('ranker', r)),
  );
  const [c] = server.infers('ranker');
  t.is(c.path, '/v1/models/ranker:predict');
  t.is(c.headers['content-type'], 'application/json');
  t.deepEqual(JSON.parse(c.body.toString()), {instances: rows});
});

test('scalar predictions [p, …] are read as they are', async (t) => {
  const reply = await predict(options('scalars'), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('scalars', r)),
  );
});

test('a version goes into the path; a version or model the server does not have fails the batch at once with a clear backend_error', async (t) => {
  await predict(options('versioned', '3'), [[1]]);
  t.is(server.infers('versioned')[0].path, '/v1/models/versioned/versions/3:predict');
  const unknown = await predict(options('versioned', '7'), [[1], [2], [3]]).catch((e: unknown) => e);
  t.true(unknown instanceof BackendError);
  t.is((unknown as BackendError).code, 'backend_error');
  t.is(
    (unknown as BackendError).message,
    'TF Serving model "versioned" version 7: the server does not know this model (HTTP 404)',
  );
  const missing = await predict(options('missing'), [[1], [2]]).catch((e: BackendError) => e);
  t.is((missing as BackendError).message, 'TF Serving model "missing": the server does not know this model (HTTP 404)');
  t.is(server.infers('missing').length, 1, 'a 404 is not split in halves');
});

test('a 400 {"error"} on one row: halving isolates it, the others get exact values', async (t) => {
  const poison = [
    [1, 2],
    [666, 0],
    [3, 4],
    [5, 6],
  ];
  const reply = await predict(options('poison'), poison);
  t.deepEqual([...(reply.rejected?.keys() ?? [])], [1]);
  for (const i of [0, 2, 3]) t.is(reply.values[i], served('poison', poison[i]));
  t.true(server.infers('poison').length <= 1 + 2 * 2);
});

test('8 poisoned rows among 24 normal ones (every 4th row): the culprits are refused alone, every normal row exact, at most 2n − 1 + 2·⌈log2 n⌉ calls', async (t) => {
  const rows32 = Array.from({length: 32}, (_, i) => (i % 4 === 2 ? [666, i] : [i, 1]));
  const reply = await predict(options('poisontf'), rows32);
  const culprits = rows32.flatMap((r, i) => (r[0] === 666 ? [i] : []));
  t.deepEqual(
    [...(reply.rejected?.keys() ?? [])].sort((a, b) => a - b),
    culprits,
  );
  rows32.forEach((r, i) => {
    if (r[0] !== 666) t.is(reply.values[i], served('poisontf', r), `row ${i}`);
  });
  t.true(server.infers('poisontf').length <= 63 + 10);
});

test('a 503 is retried', async (t) => {
  const reply = await predict(options('flaky'), [[2, 2]]);
  t.deepEqual(Array.from(reply.values), [served('flaky', [2, 2])]);
  t.deepEqual(
    server.infers('flaky').map((c) => c.status),
    [503, 200],
  );
});

test('a non-finite prediction, written as TF Serving writes it (Infinity, NaN), reaches its own row only', async (t) => {
  const reply = await predict(options('overflow'), [
    [1, 1],
    [0, 1e308],
    [-1e308, -1e308],
    [2, 2],
  ]);
  t.is(reply.values[0], served('overflow', [1, 1]));
  t.is(reply.values[1], null);
  t.is(reply.values[2], null);
  t.is(reply.values[3], served('overflow', [2, 2]));
  t.regex(server.infers('overflow')[0].body.toString(), /instances/);
  // The tokens are read outside strings only; a string holding them is left alone.
  t.deepEqual(
    parseJsonReply('{"predictions": [NaN, [Infinity], -Infinity, 1.5], "note": "NaN, Infinity"}', 'r', replyBounds(4)),
    {
      predictions: [null, [null], null, 1.5],
      note: 'NaN, Infinity',
    },
  );
});

test('a reply without "predictions" is backend_bad_response for the batch', (t) => {
  t.throws(() => decodePredictions({outputs: [1]}, 'TF Serving model "m"'), {
    instanceOf: BackendError,
    message: 'TF Serving model "m": reply has no "predictions" list',
  });
  t.throws(() => parseJsonReply('<html>', 'TF Serving model "m": reply', replyBounds(1)), {
    message: 'TF Serving model "m": reply is not JSON',
  });
});

test('hostile predictions (100,000 nested [, 300,000 values): a one-line backend_bad_response, not retried; the next call is exact', async (t) => {
  const expected: Record<string, string> = {
    deep: 'TF Serving model "deep": reply nests deeper than 32 levels',
    wide: 'TF Serving model "wide": reply holds more than 65664 values',
  };
  for (const [model, message] of Object.entries(expected)) {
    const error = await predict(options(model), rows).catch((e: unknown) => e);
    t.true(error instanceof BackendError, model);
    t.is((error as BackendError).code, 'backend_bad_response');
    t.is((error as Error).message, message);
    t.is(server.infers(model).length, 1);
  }
  const reply = await predict(options('ranker'), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('ranker', r)),
  );
});

test('a reply that dribbles in forever (200, two bytes every 20 ms) is cut at the timeout, not waited on: backend_error', async (t) => {
  const dribbler = http.createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'application/json'});
    res.write('{"predictions": [');
    const timer = setInterval(() => res.write('1,'), 20);
    res.on('close', () => clearInterval(timer));
  });
  dribbler.listen(0, '127.0.0.1');
  await once(dribbler, 'listening');
  t.teardown(() => {
    dribbler.closeAllConnections();
    dribbler.close();
  });
  const url = `http://127.0.0.1:${(dribbler.address() as AddressInfo).port}`;
  const error = await predict({...options('m'), url, timeoutMs: 500, retries: 0}, rows).catch((e: unknown) => e);
  t.true(error instanceof BackendError);
  t.is((error as BackendError).code, 'backend_error');
  // (On a machine too busy to read even the headers within the timeout, it is the other reason: no hang either way.)
  t.regex(
    (error as Error).message,
    /^backend failed after 1 attempt\(s\): (reply cut short: TimeoutError|no answer within 500 ms)$/,
  );
  // The stand-in still answers exact on a client of its own.
  const reply = await predict(options('ranker'), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('ranker', r)),
  );
});
