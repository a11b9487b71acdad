// The Open Inference Protocol client (workers/backend/v2.ts) against the stand-in behind a
// recording, fault-injecting proxy (test/helpers/model-server.ts). Each case is written from the
// specification's examples (kserve/open-inference-protocol inference_rest.md, Triton's
// extension_binary_data.md): what goes on the wire, and what each reply becomes.

import test from 'ava';
import type {V2BackendOptions} from '../src/config.ts';
import {BackendError} from '../workers/backend/backend.ts';
import type {BackendCall, BackendReply} from '../workers/backend/backend.ts';
import {v2Client} from '../workers/backend/v2.ts';
import {decodeInferReply} from '../workers/backend/v2-reply.ts';
import {isolationBudget} from '../workers/backend/http-client.ts';
import {createLogger} from '../src/log.ts';
import {floatsFromBytes} from '../src/protocol/v2-binary.ts';
import {served, startModelServer, v2Options} from './helpers/model-server.ts';
import type {ModelServer} from './helpers/model-server.ts';

let server: ModelServer;
test.before(async () => {
  server = await startModelServer();
});
test.after.always(() => server.close());

const options = (model: string, extra: Partial<V2BackendOptions> = {}): V2BackendOptions =>
  v2Options(server.url, model, extra);

let batches = 0;
const call = (rows: number[][]): BackendCall => ({
  model: 'registry-name',
  agentType: 'scout',
  rows: rows.map((r) => Float64Array.from(r)),
  deadline: Date.now() + 5000,
  batchId: `b-t-${++batches}`,
});

/** Calls a fresh client once (and closes it). */
async function predict(o: V2BackendOptions, rows: number[][]): Promise<BackendReply> {
  const backend = v2Client(o);
  try {
    return await backend.predict(call(rows));
  } finally {
    await backend.close();
  }
}

const failure = async (o: V2BackendOptions, rows: number[][]) => {
  const error = await predict(o, rows).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof BackendError)) throw new Error(`expected a BackendError, got ${String(error)}`);
  return error;
};

const rows3 = [
  [0.5, -1.25, 3],
  [1, 2, 3],
  [-7.125, 0, 1e-9],
];

test("FP64 rows with a [rows, 1] output: the request is the spec's inference request and each row gets its exact value", async (t) => {
  const reply = await predict(options('value_net'), rows3);
  t.deepEqual(
    Array.from(reply.values),
    rows3.map((r) => served('value_net', r)),
  );
  t.is(reply.rejected, undefined);
  const [metadata, infer] = server.calls.filter((c) => c.model === 'value_net');
  t.is(metadata.method, 'GET');
  t.is(metadata.path, '/v2/models/value_net');
  t.is(infer.method, 'POST');
  t.is(infer.path, '/v2/models/value_net/infer');
  t.is(infer.headers['content-type'], 'application/json');
  const body = JSON.parse(infer.body.toString());
  t.deepEqual(body, {
    id: body.id,
    inputs: [{name: 'input', shape: [3, 3], datatype: 'FP64', data: rows3.flat()}],
    outputs: [{name: 'output'}],
  });
  t.regex(body.id, /^b-t-\d+$/, 'the batch id travels as the request id');
});

test('FP32 with a [rows] output: the inputs and the output are float32, as the model computes them', async (t) => {
  const rows = [
    [0.1, 0.2, 0.3],
    [1e-3, 12345.678, -2],
  ];
  const reply = await predict(options('vnet32'), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('vnet32', r, 'FP32')),
  );
  t.not(served('vnet32', rows[0], 'FP32'), served('vnet32', rows[0]), 'FP32 really differs from FP64 here');
  const body = JSON.parse(server.infers('vnet32')[0].body.toString());
  t.is(body.inputs[0].datatype, 'FP32', 'the datatype discovered from the metadata');
});

test('a version goes into both paths; a version the server does not have is a clear backend_error', async (t) => {
  const reply = await predict(options('versioned', {version: '2'}), [[1, 2]]);
  t.deepEqual(Array.from(reply.values), [served('versioned', [1, 2])]);
  t.deepEqual(
    server.calls.filter((c) => c.model === 'versioned').map((c) => `${c.method} ${c.path}`),
    ['GET /v2/models/versioned/versions/2', 'POST /v2/models/versioned/versions/2/infer'],
  );
  const error = await failure(options('versioned', {version: '9'}), [[1, 2]]);
  t.is(error.code, 'backend_error');
  t.is(error.message, 'v2 model "versioned" version "9": the server does not know this model (HTTP 404)');
  t.is(server.infers('versioned').length, 1, 'no inference call for the unknown version');
});

test('metadata is fetched once per client, by one request however many batches wait for it, and again after a registry reload', async (t) => {
  const backend = v2Client(options('shared'));
  t.teardown(() => backend.close());
  const replies = await Promise.all([
    backend.predict(call([[1]])),
    backend.predict(call([[2]])),
    backend.predict(call([[3]])),
  ]);
  t.deepEqual(
    replies.map((r) => r.values[0]),
    [1, 2, 3].map((x) => served('shared', [x])),
  );
  await backend.predict(call([[4]]));
  t.is(server.metadataReads('shared').length, 1);
  t.is(server.infers('shared').length, 4);
  backend.registryReloaded?.();
  await backend.predict(call([[5]]));
  t.is(server.metadataReads('shared').length, 2, 'asked again after the reload');
});

test('input, output and datatype given in the registry: no metadata request at all', async (t) => {
  const reply = await predict(options('named', {input: 'input', output: 'output', datatype: 'FP64'}), [[3, 4]]);
  t.deepEqual(Array.from(reply.values), [served('named', [3, 4])]);
  t.deepEqual(server.metadataReads('named'), []);
});

test('a model the server does not know: backend_error naming it, with no inference call', async (t) => {
  const error = await failure(options('missing'), [[1]]);
  t.is(error.code, 'backend_error');
  t.is(error.message, 'v2 model "missing": the server does not know this model (HTTP 404)');
  t.deepEqual(server.infers('missing'), []);
  // Named whole in the registry (no metadata), its infer 404 fails the batch at once, unsplit.
  const named = await failure(options('missing', {input: 'input', output: 'output', datatype: 'FP64'}), [
    [1],
    [2],
    [3],
    [4],
  ]);
  t.is(named.code, 'backend_error');
  t.is(server.infers('missing').length, 1, 'one call, not a halving');
});

test('a model unloaded after discovery (infer 404): the batch fails at once and the metadata is asked again', async (t) => {
  const backend = v2Client(options('gone'));
  t.teardown(() => backend.close());
  for (let i = 0; i < 2; i++) {
    const error = await backend.predict(call([[1], [2], [3]])).catch((e: BackendError) => e);
    t.is((error as BackendError).code, 'backend_error');
  }
  t.is(server.infers('gone').length, 2);
  t.is(server.metadataReads('gone').length, 2);
});

test('metadata the contract cannot serve: each a backend_error saying what was expected and what was found', async (t) => {
  const cases: [string, Partial<V2BackendOptions>, string][] = [
    ['ints', {}, 'v2 model "ints": expected an FP32 or FP64 input; found input "x" INT64 [-1, 4]'],
    [
      'image',
      {},
      'v2 model "image": expected an input of shape [-1, D] (a dynamic batch of rows of D floats); found input "pixels" FP32 [-1, 3, 224, 224]',
    ],
    [
      'twoout',
      {},
      'v2 model "twoout": expected one output, or "output" in MODELS_FILE naming one; found outputs "value" FP64 [-1, 1], "policy" FP64 [-1, 8]',
    ],
    [
      'twoout',
      {output: 'policy'},
      'v2 model "twoout": expected an FP32 or FP64 output of shape [-1] or [-1, 1] (one value per row); found output "policy" FP64 [-1, 8]',
    ],
    [
      'plain',
      {datatype: 'FP32'},
      'v2 model "plain": expected datatype FP32 (MODELS_FILE); found input "input" FP64 [-1, -1]',
    ],
    ['plain', {input: 'x'}, 'v2 model "plain": expected input "x" (MODELS_FILE); found input "input" FP64 [-1, -1]'],
    [
      'many',
      {},
      'v2 model "many": expected one input; found 1000 inputs: "i0" FP32 [-1, 1], "i1" FP32 [-1, 1], "i2" FP32 [-1, 1], "i3" FP32 [-1, 1], and 996 more',
    ],
  ];
  for (const [model, extra, message] of cases) {
    const error = await failure(options(model, extra), [[1, 2, 3, 4]]);
    t.is(error.code, 'backend_error');
    t.is(error.message, message);
    t.deepEqual(server.infers(model), [], `${model}: no inference call`);
  }
  // The output named in the registry picks one of two.
  const reply = await predict(options('twoout', {output: 'value'}), [[1, 2]]);
  t.is(server.infers('twoout').length, 1);
  t.is(JSON.parse(server.infers('twoout')[0].body.toString()).outputs[0].name, 'value');
  t.is(reply.values.length, 1);
});

test("rows of another length than the model's D are backend_rejected without a call", async (t) => {
  const error = await failure(options('vnet4'), [[1, 2, 3]]);
  t.is(error.code, 'backend_rejected');
  t.regex(error.message, /^v2 model "vnet4" takes rows of 4 floats \(input "input"\); this row has 3/);
  t.deepEqual(server.infers('vnet4'), []);
  const reply = await predict(options('vnet4'), [[1, 2, 3, 4]]);
  t.deepEqual(Array.from(reply.values), [served('vnet4', [1, 2, 3, 4])]);
});

test('a 400 with {"error"} on one row: halving isolates it, the others get exact values, the server\'s words stay out', async (t) => {
  const rows = [
    [1, 2],
    [3, 4],
    [666, 1],
    [5, 6],
    [7, 8],
  ];
  const reply = await predict(options('poison'), rows);
  t.deepEqual([...(reply.rejected?.keys() ?? [])], [2]);
  t.is(reply.rejected?.get(2), 'backend refused this row (HTTP 400)');
  rows.forEach((row, i) => {
    if (i !== 2) t.is(reply.values[i], served('poison', row));
  });
  const infers = server.infers('poison');
  t.is(JSON.parse(infers[0].body.toString()).inputs[0].shape[0], 5, 'the five rows went as one batch first');
  t.true(infers.length <= 1 + 2 * Math.ceil(Math.log2(5)), `${infers.length} calls`);
  const ids = infers.map((c) => JSON.parse(c.body.toString()).id);
  t.is(new Set(ids).size, ids.length, 'each sub-call has its own id');
});

test('a 503 is retried (Retry-After honoured) and the retry answers', async (t) => {
  const reply = await predict(options('flaky'), [[1, 1]]);
  t.deepEqual(Array.from(reply.values), [served('flaky', [1, 1])]);
  t.deepEqual(
    server.infers('flaky').map((c) => c.status),
    [503, 200],
  );
});

test('a reply without the asked output, or answering another id, is backend_bad_response for the batch', async (t) => {
  const missing = await failure(options('nooutput'), [[1], [2]]);
  t.is(missing.code, 'backend_bad_response');
  t.is(missing.message, 'v2 model "nooutput": reply has no output "output"');
  const other = await failure(options('wrongid'), [[1]]);
  t.is(other.code, 'backend_bad_response');
  t.regex(other.message, /^v2 model "wrongid": reply answers request "someone-else", not "b-t-\d+"$/);
});

test('binary both ways: the request is framed per the extension, little-endian, and the binary reply decodes to exact values', async (t) => {
  const rows = [
    [0.1, 0.2, 0.3],
    [4, -5, 6.5],
  ];
  const reply = await predict(options('vnet32', {binary: true}), rows);
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('vnet32', r, 'FP32')),
  );
  const infer = server.infers('vnet32').at(-1)!;
  t.is(infer.headers['content-type'], 'application/octet-stream');
  const headerLength = Number(infer.headers['inference-header-content-length']);
  const header = JSON.parse(infer.body.subarray(0, headerLength).toString());
  t.deepEqual(header.inputs, [{name: 'input', shape: [2, 3], datatype: 'FP32', parameters: {binary_data_size: 24}}]);
  t.deepEqual(header.outputs, [{name: 'output', parameters: {binary_data: true}}]);
  const data = infer.body.subarray(headerLength);
  t.is(data.length, 24);
  t.deepEqual(
    Array.from({length: 6}, (_, i) => data.readFloatLE(i * 4)),
    rows.flat().map(Math.fround),
    'raw little-endian float32, row-major',
  );
});

test('FP64 binary keeps every bit of a value; an overflowing row comes back Infinity for that row only', async (t) => {
  const rows = [
    [0.1 + 0.2, 1 / 3],
    [0, 1e308],
    [-1e-300, 5e-324],
  ];
  const reply = await predict(options('bits', {binary: true}), rows);
  t.is(reply.values[0], served('bits', rows[0]));
  t.is(reply.values[1], Number.POSITIVE_INFINITY);
  t.is(reply.values[2], served('bits', rows[2]));
  // The same rows over JSON: the overflow is null (JSON has no infinity); the others are identical.
  const json = await predict(options('bits'), rows);
  t.deepEqual([json.values[0], json.values[1], json.values[2]], [reply.values[0], null, reply.values[2]]);
});

test('a binary reply whose header length lies is backend_bad_response, whichever way it lies', async (t) => {
  // Too long: the JSON takes binary bytes; too short: it is cut; past the body: refused before parsing.
  const expected: Record<string, RegExp> = {
    liar: /^v2 model "liar": reply is not JSON$/,
    liarshort: /^v2 model "liarshort": reply is not JSON$/,
    liarhuge:
      /^v2 model "liarhuge": binary reply: Inference-Header-Content-Length "(\d+)" does not fit a body of \d+ bytes$/,
  };
  for (const [model, message] of Object.entries(expected)) {
    const error = await failure(options(model, {binary: true}), [
      [1, 2],
      [3, 4],
    ]);
    t.is(error.code, 'backend_bad_response', model);
    t.regex(error.message, message);
    t.is(server.infers(model).length, 1, `${model}: a bad reply is not retried`);
  }
});

test("the spec's binary response example decodes (JSON header, then the output's bytes), and nested JSON data too", (t) => {
  const values = [1.0, 1.1, 2.0];
  const header = Buffer.from(
    JSON.stringify({outputs: [{name: 'output0', shape: [3, 1], datatype: 'FP32', parameters: {binary_data_size: 12}}]}),
  );
  const bytes = Buffer.alloc(12);
  for (const [i, v] of values.entries()) bytes.writeFloatLE(v, i * 4);
  const body = Buffer.concat([header, bytes]);
  const decoded = decodeInferReply(
    {headers: {'inference-header-content-length': String(header.length)}, body},
    'output0',
    3,
    'x',
    'v2',
  );
  t.deepEqual(Array.from(decoded), values.map(Math.fround));
  const nested = Buffer.from(
    JSON.stringify({
      id: 'x',
      outputs: [{name: 'output0', shape: [3, 1], datatype: 'FP32', data: [[1.0], [1.1], [2.0]]}],
    }),
  );
  t.deepEqual(Array.from(decodeInferReply({headers: {}, body: nested}, 'output0', 3, 'x', 'v2')), values);
  // A tensor unaligned in the body is copied, not misread.
  const odd = Buffer.concat([Buffer.from([0]), bytes]).subarray(1);
  t.deepEqual(Array.from(floatsFromBytes(odd, 'FP32')), values.map(Math.fround));
  // An output of the wrong shape is refused.
  const wide = Buffer.from(
    JSON.stringify({outputs: [{name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6]}]}),
  );
  t.throws(() => decodeInferReply({headers: {}, body: wide}, 'output0', 3, 'x', 'v2'), {
    message: 'v2: reply output "output0" has shape [3,2]; expected [3] or [3, 1]',
  });
  // Sizes that do not add up to the bytes after the header are refused, not read past.
  const short = {
    headers: {'inference-header-content-length': String(header.length)},
    body: body.subarray(0, body.length - 4),
  };
  t.throws(() => decodeInferReply(short, 'output0', 3, 'x', 'v2'), {
    message: /binary_data_size add up to 12 bytes, but 8 bytes follow/,
  });
});

test('credentials in the URL travel as a Basic header, never in the request line', async (t) => {
  const url = server.url.replace('http://', 'http://triton-user:s3cret%40pw@');
  await predict(options('guarded', {url}), [[1]]);
  for (const c of server.calls.filter((x) => x.model === 'guarded')) {
    t.is(c.headers.authorization, `Basic ${Buffer.from('triton-user:s3cret@pw').toString('base64')}`);
    t.false(c.path.includes('s3cret'));
  }
  t.is(server.calls.filter((x) => x.model === 'guarded').length, 2);
});

/** `n` rows of two values, the i-th [i, i / 4]. */
const manyRows = (n: number) => Array.from({length: n}, (_, i) => [i, i / 4]);

test('hostile replies (100,000 nested [, 300,000 values): a one-line bounded backend_bad_response, no retry, and the client goes on exact', async (t) => {
  const lines: string[] = [];
  const log = createLogger('trace', {write: (line: string) => lines.push(line)});
  const backend = v2Client(options('value_net'));
  t.teardown(() => backend.close());
  const expected: Record<string, RegExp> = {
    deep: /^v2 model "deep": reply nests deeper than 32 levels$/,
    wide: /^v2 model "wide": reply holds more than 65600 values$/,
  };
  for (const [model, message] of Object.entries(expected)) {
    const error = await failure(options(model), manyRows(1));
    t.is(error.code, 'backend_bad_response', model);
    t.regex(error.message, message);
    t.is(server.infers(model).length, 1, `${model}: a bad reply is not retried`);
    // As the actor logs it: serializing the error (and its cause) does not throw.
    t.notThrows(() => log.warn({err: error}, 'backend call failed'));
  }
  t.is(lines.length, 2);
  // The same client, and a normal model on the same server, still answer exact.
  const rows = manyRows(5);
  const reply = await backend.predict(call(rows));
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('value_net', r)),
  );
});

test('an output declared INT64 is a backend_error naming the model, the output and the datatype, discovered or named in the registry', async (t) => {
  const named = {input: 'input', output: 'output', datatype: 'FP64' as const};
  for (const o of [options('ints64'), options('ints64', named), options('ints64', {...named, binary: true})]) {
    const error = await failure(o, manyRows(3));
    t.is(error.code, 'backend_error');
    t.is(
      error.message,
      'v2 model "ints64": output "output" has datatype "INT64"; this gateway reads FP32 or FP64 outputs only',
    );
  }
});

test("one client's short deadline does not fail the shared metadata fetch: it gives up alone, the others get exact values from one fetch", async (t) => {
  const backend = v2Client(options('gated'));
  t.teardown(() => backend.close());
  const open = server.gate();
  const rows = manyRows(3);
  const hurried = backend.predict({...call(rows), deadline: Date.now() + 50});
  const patient = backend.predict({...call(rows), deadline: Date.now() + 10_000});
  const error = await hurried.catch((e: unknown) => e);
  t.true(error instanceof BackendError);
  t.is((error as BackendError).code, 'backend_error');
  t.regex((error as Error).message, /^v2 model "gated": model metadata not fetched within this batch's deadline/);
  open();
  const reply = await patient;
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('gated', r)),
  );
  t.is(server.metadataReads('gated').length, 1, 'one fetch, not aborted, not repeated');
});

test('a metadata fetch that failed (500 past the retries) is not kept: the next batch asks again and gets exact values', async (t) => {
  const backend = v2Client(options('metaflaky'));
  t.teardown(() => backend.close());
  const rows = manyRows(2);
  const error = await backend.predict(call(rows)).catch((e: unknown) => e);
  t.is((error as BackendError).code, 'backend_error');
  t.regex(
    (error as Error).message,
    /^v2 model "metaflaky": model metadata: backend failed after 3 attempt\(s\): HTTP 500$/,
  );
  const reply = await backend.predict(call(rows));
  t.deepEqual(
    Array.from(reply.values),
    rows.map((r) => served('metaflaky', r)),
  );
  t.is(server.metadataReads('metaflaky').length, 4);
});

test('a server refusing every row costs 1 + 4·log2(n) calls, not 2n; one refused row among 64 is still isolated alone', async (t) => {
  t.is(isolationBudget(64), 25);
  t.is(isolationBudget(1), 1);
  const named = {input: 'input', output: 'output', datatype: 'FP64' as const};
  const all = await predict(options('refuseall', named), manyRows(64));
  t.is(server.infers('refuseall').length, 25);
  t.is(all.rejected?.size, 64);
  const reasons = new Set(all.rejected?.values());
  t.true(
    reasons.has(
      "backend refused this row's part of the batch (HTTP 400), as it refused every call of the batch (12 single rows picked at random too); not isolated further: the batch's 25 calls are spent",
    ),
  );
  // The culprit (666) among 63 normal rows: 1 + 2·6 calls, every other row exact.
  const rows = manyRows(64);
  rows[37] = [666, 1];
  const reply = await predict(options('poison64', named), rows);
  t.deepEqual([...(reply.rejected?.keys() ?? [])], [37]);
  t.regex(reply.rejected?.get(37) ?? '', /^backend refused this row \(HTTP 400\)$/);
  t.is(server.infers('poison64').length, 13);
  rows.forEach((r, i) => {
    if (i !== 37) t.is(reply.values[i], served('poison64', r), `row ${i}`);
  });
});

test('one client cannot fail others through the isolation budget: 8 poisoned rows among 24 normal ones (every 4th row), every normal row exact', async (t) => {
  const named = {input: 'input', output: 'output', datatype: 'FP64' as const};
  // The attack: one address's rows where the budget of 1 + 4·5 = 21 calls ran out with 18 normal rows unsettled.
  const rows = manyRows(32);
  const culprits = [1, 5, 9, 13, 17, 21, 25, 29];
  for (const i of culprits) rows[i] = [666, i];
  const reply = await predict(options('poison32', named), rows);
  t.deepEqual(
    [...(reply.rejected?.keys() ?? [])].sort((a, b) => a - b),
    culprits,
  );
  for (const i of culprits) t.is(reply.rejected?.get(i), 'backend refused this row (HTTP 400)');
  rows.forEach((r, i) => {
    if (!culprits.includes(i)) t.is(reply.values[i], served('poison32', r), `row ${i}`);
  });
  // Past the budget, as documented: once a part is accepted, isolation goes on to single rows, at most 2n − 1 + 2·⌈log2 n⌉ calls.
  const calls = server.infers('poison32').length;
  t.true(calls > isolationBudget(32) && calls <= 2 * 32 - 1 + 10, `${calls} calls`);
  // Culprits anywhere (here 10 of 32, two side by side): the same.
  const scattered = manyRows(32);
  const others = [0, 3, 4, 11, 12, 18, 22, 27, 30, 31];
  for (const i of others) scattered[i] = [666, -i];
  const second = await predict(options('poison32b', named), scattered);
  t.deepEqual(
    [...(second.rejected?.keys() ?? [])].sort((a, b) => a - b),
    others,
  );
  scattered.forEach((r, i) => {
    if (!others.includes(i)) t.is(second.values[i], served('poison32b', r), `row ${i}`);
  });
  t.true(server.infers('poison32b').length <= 63 + 10);
});

test('half the batch poisoned, every other row: no normal row is refused (the rows are shuffled and single rows probed before a part is refused whole)', async (t) => {
  const named = {input: 'input', output: 'output', datatype: 'FP64' as const};
  const rows = manyRows(64).map((r, i) => (i % 2 === 0 ? [666, i] : r));
  // Refused whole only if every call within the bound is refused, the last of them 12 single rows
  // picked at random among the 64: all 12 among the 32 poisoned ones has odds below C(32,12)/C(64,12) ≈ 7·10⁻⁵.
  const reply = await predict(options('poisonhalf', named), rows);
  t.deepEqual(
    [...(reply.rejected?.keys() ?? [])],
    rows.flatMap((_, i) => (i % 2 === 0 ? [i] : [])),
  );
  rows.forEach((r, i) => {
    if (i % 2 === 1) t.is(reply.values[i], served('poisonhalf', r), `row ${i}`);
  });
  t.true(server.infers('poisonhalf').length <= 2 * 64 - 1 + 12);
});

test('the reply cap holds for inference replies and for the metadata: past it, backend_bad_response naming the cap, not retried', async (t) => {
  const infer = await failure(options('widecap', {maxReplyBytes: 64 * 1024}), manyRows(1));
  t.is(infer.code, 'backend_bad_response');
  t.is(infer.message, 'backend reply is larger than 65536 bytes');
  const metadata = await failure(options('many', {maxReplyBytes: 1024}), manyRows(1));
  t.is(metadata.code, 'backend_bad_response');
  t.is(metadata.message, 'v2 model "many": model metadata: backend reply is larger than 1024 bytes');
  t.is(server.infers('widecap').length, 1);
  t.deepEqual(server.infers('many'), []);
});

test('an output of any datatype but FP32 or FP64 (FP16, BOOL, BYTES, UINT8, none) is refused by name, never read as floats', (t) => {
  for (const datatype of ['FP16', 'BOOL', 'BYTES', 'UINT8', 'INT32', undefined, 7]) {
    const body = Buffer.from(
      JSON.stringify({id: 'x', outputs: [{name: 'score', shape: [2, 1], datatype, data: [1, 0]}]}),
    );
    const error = t.throws(() => decodeInferReply({headers: {}, body}, 'score', 2, 'x', 'v2 model "m"'), {
      instanceOf: BackendError,
    });
    t.is((error as BackendError).code, 'backend_error');
    const shownAs = datatype === undefined ? 'none' : typeof datatype === 'string' ? `"${datatype}"` : '7';
    t.is(
      error?.message,
      `v2 model "m": output "score" has datatype ${shownAs}; this gateway reads FP32 or FP64 outputs only`,
    );
  }
});
