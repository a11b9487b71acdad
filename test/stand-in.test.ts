// The stand-in (`npm run backend`) answers the Open Inference Protocol and TF Serving's REST API as
// their specifications say, checked here byte by byte with plain fetch, no client of ours:
// kserve/open-inference-protocol inference_rest.md (health, metadata, inference, error object,
// tensor data flat or nested), Triton's extension_binary_data.md, TF Serving's api_rest.md.

import test from 'ava';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {createBackendServer} from '../src/simulator/server.ts';
import {served, testCatalog} from './helpers/model-server.ts';

const server = createBackendServer({latencyMinMs: 0, latencyMaxMs: 0, maxBodyBytes: 1 << 20, models: testCatalog});
let base: string;
test.before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(() => {
  server.closeAllConnections();
  server.close();
});

const get = (path: string) => fetch(base + path);
const post = (
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {'content-type': 'application/json'},
) => fetch(base + path, {method: 'POST', headers, body});

test('v2 health and server metadata: 200 with an empty body for live and ready; the binary extension is listed', async (t) => {
  for (const path of ['/v2/health/live', '/v2/health/ready', '/v2/models/m/ready', '/v2/models/m/versions/1/ready']) {
    const reply = await get(path);
    t.is(reply.status, 200, path);
    t.is(await reply.text(), '', path);
  }
  const unknown = await get('/v2/models/missing/ready');
  t.is(unknown.status, 404, 'a 4xx says false');
  t.deepEqual(await (await get('/v2')).json(), {
    name: 'agent-batcher-stand-in',
    version: '2',
    extensions: ['binary_tensor_data'],
  });
});

test("v2 model metadata is the spec's $metadata_model_response; an unknown model or version is 404 with the error object", async (t) => {
  t.deepEqual(await (await get('/v2/models/vnet4')).json(), {
    name: 'vnet4',
    versions: ['1'],
    platform: 'agent-batcher-stand-in',
    inputs: [{name: 'input', datatype: 'FP64', shape: [-1, 4]}],
    outputs: [{name: 'output', datatype: 'FP64', shape: [-1, 1]}],
  });
  t.deepEqual(((await (await get('/v2/models/vnet32')).json()) as {outputs: unknown}).outputs, [
    {name: 'output', datatype: 'FP32', shape: [-1]},
  ]);
  const missing = await get('/v2/models/missing');
  t.is(missing.status, 404);
  t.deepEqual(await missing.json(), {error: "Request for unknown model: 'missing' is not found"});
  const version = await get('/v2/models/versioned/versions/4');
  t.is(version.status, 404);
  t.deepEqual(await version.json(), {error: "Request for unknown model: 'versioned' version 4 is not found"});
});

test("v2 inference: the spec's request with data flat or in its natural nested form; id echoed; outputs omitted means all", async (t) => {
  const request = (data: unknown, extra: object = {}) =>
    JSON.stringify({
      id: '42',
      inputs: [{name: 'input', shape: [2, 2], datatype: 'FP64', data}],
      outputs: [{name: 'output'}],
      ...extra,
    });
  const flat = await post('/v2/models/versioned/versions/2/infer', request([1, 2, 4, 5]));
  t.is(flat.status, 200);
  const expected = {
    model_name: 'versioned',
    model_version: '2',
    id: '42',
    outputs: [
      {
        name: 'output',
        datatype: 'FP64',
        shape: [2, 1],
        data: [served('versioned', [1, 2]), served('versioned', [4, 5])],
      },
    ],
  };
  t.deepEqual(await flat.json(), expected);
  t.deepEqual(
    await (
      await post(
        '/v2/models/versioned/versions/2/infer',
        request([
          [1, 2],
          [4, 5],
        ]),
      )
    ).json(),
    expected,
  );
  const latest = (await (
    await post(
      '/v2/models/versioned/infer',
      JSON.stringify({inputs: [{name: 'input', shape: [1, 1], datatype: 'FP64', data: [3]}]}),
    )
  ).json()) as any;
  t.is(latest.model_version, '3', 'no version asked: the latest');
  t.false('id' in latest, 'no id asked, none answered');
  t.is(latest.outputs[0].data[0], served('versioned', [3]));
});

test('v2 errors: an HTTP error status with {"error"} for each request the model cannot take', async (t) => {
  const infer = (inputs: unknown, extra: object = {}) =>
    post('/v2/models/vnet4/infer', JSON.stringify({inputs, ...extra}));
  const cases: [Promise<Response>, number, RegExp][] = [
    [
      infer([{name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4]}]),
      400,
      /data-type is 'FP32', but model 'vnet4' expects 'FP64'/,
    ],
    [infer([{name: 'x', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4]}]), 400, /unexpected inference input 'x'/],
    [infer([{name: 'input', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3]}]), 400, /expected \[-1,4\], got \[1,3\]/],
    [
      infer([{name: 'input', shape: [2, 4], datatype: 'FP64', data: [1, 2, 3, 4]}]),
      400,
      /has 4 elements; its shape \[2,4\] takes 8/,
    ],
    [infer([{name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 'x']}]), 400, /must be numbers/],
    [
      infer([{name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4]}], {outputs: [{name: 'z'}]}),
      400,
      /unexpected inference output 'z'/,
    ],
    [infer([]), 400, /expected 1 inputs but got 0/],
    [post('/v2/models/vnet4/infer', '{"inputs": '), 400, /not JSON/],
    [post('/v2/models/missing/infer', '{}'), 404, /unknown model: 'missing'/],
    [get('/v2/models/vnet4/infer'), 405, /use POST/],
    [post('/v2/models/vnet4/infer', new Uint8Array(2 << 20)), 413, /too large/],
  ];
  for (const [reply, status, message] of cases) {
    const r = await reply;
    t.is(r.status, status);
    t.is(r.headers.get('content-type'), 'application/json');
    const body = (await r.json()) as {error: unknown};
    t.deepEqual(Object.keys(body), ['error']);
    t.regex(body.error as string, message);
  }
});

test("v2 binary tensors, framed by hand as the extension's example: binary in, binary out; sizes that do not add up are 400", async (t) => {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{name: 'input', shape: [2, 2], datatype: 'FP32', parameters: {binary_data_size: 16}}],
      parameters: {binary_data_output: true},
    }),
  );
  const data = Buffer.alloc(16);
  [0.5, 1.5, -2, 0.1].forEach((v, i) => {
    data.writeFloatLE(v, i * 4);
  });
  const reply = await post('/v2/models/vnet32/infer', Buffer.concat([header, data]), {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(header.length),
  });
  t.is(reply.status, 200);
  t.is(reply.headers.get('content-type'), 'application/octet-stream');
  const body = Buffer.from(await reply.arrayBuffer());
  const length = Number(reply.headers.get('inference-header-content-length'));
  t.deepEqual(JSON.parse(body.subarray(0, length).toString()), {
    model_name: 'vnet32',
    model_version: '1',
    outputs: [{name: 'output', datatype: 'FP32', shape: [2], parameters: {binary_data_size: 8}}],
  });
  t.is(body.length, length + 8);
  t.deepEqual(
    [body.readFloatLE(length), body.readFloatLE(length + 4)],
    [served('vnet32', [0.5, 1.5], 'FP32'), served('vnet32', [-2, 0.1], 'FP32')],
  );
  // The header length past the body, or 4 bytes short of the declared size: refused, not read past.
  for (const [headerLength, payload] of [
    [String(header.length + 100), Buffer.concat([header, data])],
    [String(header.length), Buffer.concat([header, data.subarray(0, 12)])],
  ] as const) {
    const bad = await post('/v2/models/vnet32/infer', payload, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': headerLength,
    });
    t.is(bad.status, 400);
    t.regex(((await bad.json()) as {error: string}).error, /Inference-Header-Content-Length|binary_data_size add up/);
  }
});

test('TF Serving: model status, row and columnar predict, its 404 and 400 error objects, NaN and Infinity written as tokens', async (t) => {
  t.deepEqual(await (await get('/v1/models/versioned')).json(), {
    model_version_status: ['1', '2', '3'].map((version) => ({
      version,
      state: 'AVAILABLE',
      status: {error_code: 'OK', error_message: ''},
    })),
  });
  const rows = await post(
    '/v1/models/ranker:predict',
    JSON.stringify({
      instances: [
        [1, 2],
        [3, 4],
      ],
    }),
  );
  t.deepEqual(await rows.json(), {predictions: [[served('ranker', [1, 2])], [served('ranker', [3, 4])]]});
  const scalars = await post('/v1/models/scalars/versions/1:predict', JSON.stringify({inputs: [[1, 2]]}));
  t.deepEqual(await scalars.json(), {outputs: [served('scalars', [1, 2])]});
  const missing = await post('/v1/models/versioned/versions/9:predict', '{"instances": [[1]]}');
  t.is(missing.status, 404);
  t.deepEqual(await missing.json(), {error: 'Servable not found for request: Specific(versioned, 9)'});
  t.deepEqual(await (await post('/v1/models/missing:predict', '{"instances": [[1]]}')).json(), {
    error: 'Servable not found for request: Latest(missing)',
  });
  const ragged = await post('/v1/models/ranker:predict', '{"instances": [[1], [1, 2]]}');
  t.is(ragged.status, 400);
  t.deepEqual(await ragged.json(), {error: 'all instances must have the same shape'});
  const overflow = await post(
    '/v1/models/ranker:predict',
    JSON.stringify({
      instances: [
        [0, 1e308],
        [1, 1],
      ],
    }),
  );
  t.is(await overflow.text(), `{"predictions":[[Infinity],[${served('ranker', [1, 1])}]]}`);
  const withTokens = await post('/v1/models/scalars:predict', '{"instances": [[NaN, 1], [1, 2]]}');
  t.is(withTokens.status, 400, 'NaN is read as a token, and a model of numbers refuses it');
});

test('hostile paths, methods and bodies get an error status with the error object, and the stand-in answers the next request', async (t) => {
  const cases: [string, Promise<Response>, number, RegExp][] = [
    ['v2 model name not percent-encoding', get('/v2/models/%zz'), 400, /not valid percent-encoding/],
    ['v2 version not percent-encoding', get('/v2/models/m/versions/%e0%a4'), 400, /not valid percent-encoding/],
    ['TF Serving model not percent-encoding', get('/v1/models/%zz'), 400, /not valid percent-encoding/],
    ['v2 path of no endpoint', get('/v2/models/m/explain'), 404, /no such endpoint/],
    ['TF Serving path of no endpoint', get('/v1/models/m:classify'), 404, /Malformed request/],
    ['POST to v2 server metadata', post('/v2', '{}'), 405, /use GET/],
    ['POST to v2 health', post('/v2/health/ready', '{}'), 405, /use GET/],
    ['POST to v2 model metadata', post('/v2/models/m', '{}'), 405, /use GET/],
    ['GET of v2 infer', get('/v2/models/m/infer'), 405, /use POST/],
    ['GET of TF Serving predict', get('/v1/models/ranker:predict'), 405, /use POST/],
    ['POST to TF Serving model status', post('/v1/models/ranker', '{}'), 405, /use GET/],
    ['TF Serving body not JSON', post('/v1/models/ranker:predict', '{"instances": [[1, 2]'), 400, /not JSON/],
    [
      'TF Serving instances and inputs both',
      post('/v1/models/ranker:predict', '{"instances": [[1]], "inputs": [[1]]}'),
      400,
      /either, not both/,
    ],
    ['TF Serving neither', post('/v1/models/ranker:predict', '{"signature_name": "x"}'), 400, /either, not both/],
    ['our /predict body not JSON', post('/predict', '{"model": '), 400, /not JSON/],
    ['our /predict with GET', get('/predict'), 405, /use POST/],
  ];
  for (const [what, reply, status, message] of cases) {
    const answered = await reply;
    t.is(answered.status, status, what);
    const body = (await answered.json()) as {error?: unknown};
    t.is(typeof body.error, 'string', what);
    t.regex(body.error as string, message, what);
  }
  const after = await post('/v1/models/ranker:predict', '{"instances": [[1, 2]]}');
  t.deepEqual(await after.json(), {predictions: [[served('ranker', [1, 2])]]});
});

test('v2 requests whose name, datatype, shape or output nest 100,000 deep are a 400 naming the field, never a 500; the next request is exact', async (t) => {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const input = (field: string, value: string) => {
    const fields: Record<string, string> = {name: '"input"', shape: '[1,2]', datatype: '"FP64"', data: '[1,2]'};
    fields[field] = value;
    return `{${Object.entries(fields)
      .map(([k, v]) => `"${k}":${v}`)
      .join(',')}}`;
  };
  const cases: [string, string, RegExp][] = [
    ['name', `{"inputs":[${input('name', deep)}]}`, /^unexpected inference input 'a list of 1' for model 'm'$/],
    [
      'datatype',
      `{"inputs":[${input('datatype', deep)}]}`,
      /data-type is 'a list of 1', but model 'm' expects 'FP64'$/,
    ],
    ['shape', `{"inputs":[${input('shape', deep)}]}`, /^unexpected shape a list of 1 for input 'input'/],
    [
      'output',
      `{"inputs":[${input('name', '"input"')}],"outputs":[{"name":${deep}}]}`,
      /^unexpected inference output 'a list of 1'/,
    ],
  ];
  for (const [what, body, message] of cases) {
    const answered = await post('/v2/models/m/infer', body);
    t.is(answered.status, 400, what);
    t.regex(((await answered.json()) as {error: string}).error, message, what);
  }
  const after = await post('/v2/models/m/infer', `{"inputs":[${input('name', '"input"')}]}`);
  const reply = (await after.json()) as {outputs: {data: number[]}[]};
  t.deepEqual(reply.outputs[0].data, [served('m', [1, 2])]);
});
