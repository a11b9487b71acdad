// Scenario `protocols` (`node bench/protocols.ts`; `--quick` for a short run): what each wire
// protocol costs per batch, side by side on the same machine (issue #21):
//
//   (a) codec: the gateway's side of one batch (encode the request, decode the reply) and the
//       stand-in's parse of the request (JSON.parse, or the binary tensor viewed in place), no I/O;
//   (b) the HTTP client against `npm run backend` (its own process, latency 0): batches one after
//       another, wall time per batch and both processes' CPU per batch;
//   (c) through the gateway (`npm start`, its own process): one client posting one batch's agents
//       (one key) per request, one request after another, wall time per request.
//
// Protocols: ours (JSON), v2 JSON FP64 and FP32, v2 binary FP64 and FP32 (Triton's binary tensor
// extension), TF Serving (JSON). Batches of 32 rows × 4,096 floats (the issue's case) and 32 × 16,
// full-precision values (a seeded generator: what a real model's inputs print as, not short
// decimals). Every measurement runs in rounds, protocol after protocol; per protocol and size the
// round with the median round trip is kept. Writes bench/protocols.json and the RESULTS.md section
// and README headline between their `protocols` markers (`--report-only` rewrites them from the
// last run's file).

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {mkdtemp, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import {request} from 'undici';
import {httpBackend} from '../src/config.ts';
import type {HttpDefaults, TfServingBackendOptions, V2BackendOptions, V2Datatype} from '../src/config.ts';
import {defaultModel} from '../src/simulator/catalog.ts';
import {parseInferRequest} from '../src/simulator/v2.ts';
import type {BackendCall} from '../workers/backend/backend.ts';
import {HttpClient} from '../workers/backend/http-client.ts';
import type {HttpClientOptions} from '../workers/backend/http-client.ts';
import type {Exchanger, WireProtocol, WireReply} from '../workers/backend/wire-protocol.ts';
import {ourProtocol} from '../workers/backend/http.ts';
import {tfServingProtocol} from '../workers/backend/tfserving.ts';
import {V2Protocol} from '../workers/backend/v2.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {writeBetweenMarkers} from './markers.ts';
import {cpuSeconds, stop} from './servers.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const {values: args} = parseArgs({
  options: {quick: {type: 'boolean', default: false}, 'report-only': {type: 'boolean', default: false}},
});
const rounds = args.quick ? 1 : 3;
const sizes = [
  {rows: 32, d: 4096},
  {rows: 32, d: 16},
] as const;

type Kind = 'ours' | 'v2-json-fp64' | 'v2-json-fp32' | 'v2-binary-fp64' | 'v2-binary-fp32' | 'tfserving';
const kinds: Kind[] = ['ours', 'v2-json-fp64', 'v2-json-fp32', 'v2-binary-fp64', 'v2-binary-fp32', 'tfserving'];
const names: Record<Kind, string> = {
  ours: 'ours (JSON)',
  'v2-json-fp64': 'v2 JSON, FP64',
  'v2-json-fp32': 'v2 JSON, FP32',
  'v2-binary-fp64': 'v2 binary, FP64',
  'v2-binary-fp32': 'v2 binary, FP32',
  tfserving: 'TF Serving (JSON)',
};
/** The stand-in's model behind each v2 kind: its datatype decides the tensor's. */
const serverModel = (k: Kind) => (k.endsWith('fp32') ? 'bench_fp32' : 'bench_fp64');
const datatype = (k: Kind): V2Datatype => (k.endsWith('fp32') ? 'FP32' : 'FP64');

export interface ProtocolRow {
  kind: Kind;
  rows: number;
  d: number;
  requestBytes: number;
  replyBytes: number;
  /** (a) ms per batch. */
  encodeMs: number;
  decodeMs: number;
  serverParseMs: number;
  /** (b) ms per batch, and CPU ms per batch of each side. */
  roundTripMs: number;
  clientCpuMs: number;
  standInCpuMs: number;
  /** (c) ms per request (one batch), 0 when not measured. */
  gatewayMs: number;
}

export interface ProtocolsRecord {
  date: string;
  machine: string;
  rounds: number;
  loadAverage: [number, number];
  rows: ProtocolRow[];
}

const httpDefaults: HttpDefaults = {timeoutMs: 30_000, retries: 0, maxReplyBytes: 64 << 20};

function protocolOf(kind: Kind, url: string): {protocol: WireProtocol; options: HttpClientOptions} {
  if (kind === 'ours') return {protocol: ourProtocol, options: httpBackend(`${url}/predict`, httpDefaults)};
  if (kind === 'tfserving') {
    const options: TfServingBackendOptions = {
      kind: 'tfserving',
      url,
      model: 'bench_fp64',
      version: undefined,
      ...httpDefaults,
    };
    return {protocol: tfServingProtocol(options), options};
  }
  const options: V2BackendOptions = {
    kind: 'v2',
    url,
    model: serverModel(kind),
    version: undefined,
    input: 'input',
    output: 'output',
    datatype: datatype(kind),
    binary: kind.startsWith('v2-binary'),
    ...httpDefaults,
  };
  return {protocol: new V2Protocol(options), options};
}

/** Full-precision values from a seeded generator. */
function matrix(rows: number, d: number, seed: number): Float64Array[] {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({length: rows}, () => Float64Array.from({length: d}, next));
}

/** Median ms of `fn` over enough repetitions to fill about `budgetMs`. */
async function timeEach(fn: () => unknown, budgetMs: number): Promise<number> {
  const warm = performance.now() + budgetMs / 3;
  for (let i = 0; i < 3 || performance.now() < warm; i++) await fn();
  const samples: number[] = [];
  const until = performance.now() + budgetMs;
  while (performance.now() < until || samples.length < 5) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startChild(entry: string, env: Record<string, string>, health: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: {...process.env, LOG_LEVEL: 'silent', HOST: '127.0.0.1', ...env},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await waitUntilUp(health, {child, describe: () => stderr.slice(-2000)});
  return child;
}

async function measure(): Promise<ProtocolsRecord> {
  const loadAtStart = os.loadavg()[0];
  const backendPort = await freePort();
  const standIn = await startChild(
    'src/simulator/server-main.ts',
    {BACKEND_PORT: String(backendPort), BACKEND_LATENCY_MIN_MS: '0', BACKEND_LATENCY_MAX_MS: '0'},
    `http://127.0.0.1:${backendPort}/healthz`,
  );
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-protocols-'));
  const modelsFile = path.join(dir, 'models.json');
  await writeFile(
    modelsFile,
    JSON.stringify({
      models: Object.fromEntries(
        kinds.map((k) => {
          const {options} = protocolOf(k, backendUrl);
          const backend =
            k === 'ours'
              ? {kind: 'http', url: options.url}
              : k === 'tfserving'
                ? {kind: 'tfserving', url: backendUrl, model: 'bench_fp64'}
                : {
                    kind: 'v2',
                    url: backendUrl,
                    model: serverModel(k),
                    input: 'input',
                    output: 'output',
                    datatype: datatype(k),
                    binary: k.startsWith('v2-binary'),
                  };
          return [k, {backend, max_batch_size: 32, max_wait_ms: 5}];
        }),
      ),
    }),
  );
  const gatewayPort = await freePort();
  const gateway = await startChild(
    'src/main.ts',
    {
      PORT: String(gatewayPort),
      MODELS_FILE: modelsFile,
      ACTOR_POOL_SIZE: '1',
      MAX_BODY_BYTES: String(16 << 20),
      MAX_VECTOR_LENGTH: '4096',
      BACKEND_TIMEOUT_MS: '30000',
      REQUEST_TIMEOUT_MS: '60000',
    },
    `http://127.0.0.1:${gatewayPort}/readyz`,
  );
  const results = new Map<string, ProtocolRow[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const {rows, d} of sizes) {
        const data = matrix(rows, d, 20 + round);
        for (const kind of kinds) {
          const row = await measureOne(kind, data, backendUrl, standIn, `http://127.0.0.1:${gatewayPort}`);
          const key = `${kind} ${rows}x${d}`;
          results.set(key, [...(results.get(key) ?? []), row]);
          console.log(
            `round ${round + 1}/${rounds} ${names[kind].padEnd(18)} ${rows}×${d}: encode ${row.encodeMs.toFixed(3)} decode ${row.decodeMs.toFixed(3)} parse ${row.serverParseMs.toFixed(3)} round trip ${row.roundTripMs.toFixed(2)} gateway ${row.gatewayMs.toFixed(2)} ms`,
          );
        }
      }
    }
  } finally {
    await stop([gateway, standIn]);
  }
  // Per protocol and size, the round with the median round trip.
  const rowsOut = [...results.values()].map(
    (rs) => [...rs].sort((a, b) => a.roundTripMs - b.roundTripMs)[Math.floor(rs.length / 2)],
  );
  const cpu = os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown';
  return {
    date: new Date().toISOString(),
    machine: `${os.availableParallelism()} cores (${cpu}), node ${process.version}`,
    rounds,
    loadAverage: [loadAtStart, os.loadavg()[0]],
    rows: rowsOut,
  };
}

async function measureOne(
  kind: Kind,
  rows: Float64Array[],
  backendUrl: string,
  standIn: ChildProcess,
  gatewayUrl: string,
): Promise<ProtocolRow> {
  const budget = args.quick ? 300 : 1500;
  const {protocol, options} = protocolOf(kind, backendUrl);
  const call: BackendCall = {
    model: 'bench',
    agentType: 'scout',
    rows,
    deadline: Date.now() + 600_000,
    batchId: 'b-bench-1',
  };
  // A given signature: prepare() asks no server.
  await protocol.prepare?.(call, undefined as unknown as Exchanger);
  const wire = protocol.encode(call, rows, 'b-bench-1');
  const body = typeof wire.body === 'string' ? Buffer.from(wire.body) : Buffer.from(wire.body ?? '');
  // One real exchange with the stand-in gives the reply to decode.
  const target = wire.path === '' ? options.url : backendUrl + wire.path;
  const answered = await request(target, {method: 'POST', headers: wire.headers, body});
  const reply: WireReply = {headers: answered.headers, body: Buffer.from(await answered.body.arrayBuffer())};
  if (answered.statusCode !== 200)
    throw new Error(`${kind}: the stand-in answered ${answered.statusCode}: ${reply.body.toString().slice(0, 200)}`);
  if (protocol.decode(reply, call, rows.length, 'b-bench-1').length !== rows.length)
    throw new Error(`${kind}: wrong reply`);

  const encodeMs = await timeEach(() => protocol.encode(call, rows, 'b-bench-1'), budget);
  const decodeMs = await timeEach(() => protocol.decode(reply, call, rows.length, 'b-bench-1'), budget);
  const model = {...defaultModel, datatype: datatype(kind)};
  const serverParseMs = await timeEach(
    () =>
      kind.startsWith('v2')
        ? parseInferRequest(body, wire.headers?.['inference-header-content-length'], serverModel(kind), model)
        : JSON.parse(body.toString('utf8')),
    budget,
  );

  const client = new HttpClient(options, protocol);
  const batches = (args.quick ? 10 : 40) * (rows[0].length > 1000 ? 1 : 10);
  let roundTripMs: number;
  let clientCpuMs: number;
  let standInCpuMs: number;
  try {
    for (let i = 0; i < 3; i++) await client.predict({...call, deadline: Date.now() + 60_000});
    const cpu0 = process.cpuUsage();
    const server0 = await cpuSeconds([standIn]);
    const samples: number[] = [];
    for (let i = 0; i < batches; i++) {
      const t0 = performance.now();
      await client.predict({...call, deadline: Date.now() + 60_000});
      samples.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    clientCpuMs = (cpu.user + cpu.system) / 1000 / batches;
    standInCpuMs = (((await cpuSeconds([standIn])) - server0) * 1000) / batches;
    roundTripMs = median(samples);
  } finally {
    await client.close();
  }

  const gatewayMs = await throughGateway(kind, rows, gatewayUrl, args.quick ? 5 : 20);
  return {
    kind,
    rows: rows.length,
    d: rows[0].length,
    requestBytes: body.length,
    replyBytes: reply.body.length,
    encodeMs,
    decodeMs,
    serverParseMs,
    roundTripMs,
    clientCpuMs,
    standInCpuMs,
    gatewayMs,
  };
}

/** Median ms of a request carrying the batch's rows as agents of one key (one backend call each). */
async function throughGateway(kind: Kind, rows: Float64Array[], url: string, requests: number): Promise<number> {
  const agents = Object.fromEntries(
    rows.map((row, i) => [`a${i}`, {vector: Array.from(row), model: kind, agent_type: 'scout'}]),
  );
  const text = JSON.stringify({agents});
  const samples: number[] = [];
  for (let i = 0; i < requests + 2; i++) {
    const t0 = performance.now();
    const answered = await request(`${url}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: text,
    });
    const reply = (await answered.body.json()) as {errors: boolean; results: Record<string, {batch?: {size: number}}>};
    if (answered.statusCode !== 200 || reply.errors)
      throw new Error(`${kind}: the gateway answered ${answered.statusCode}: ${JSON.stringify(reply).slice(0, 300)}`);
    if (reply.results.a0.batch?.size !== rows.length)
      throw new Error(`${kind}: a batch of ${reply.results.a0.batch?.size}, not ${rows.length}`);
    if (i >= 2) samples.push(performance.now() - t0);
  }
  return median(samples);
}

// --- the report ---------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
/** ms: three decimals below 1 ms. */
const fms = (x: number) => x.toFixed(x < 1 ? 3 : 2);
const kb = (x: number) => `${(x / 1024).toFixed(x < 102_400 ? 1 : 0)} KB`;

export function protocolsSection(r: ProtocolsRecord): string {
  const table = (rows: number, d: number) => {
    const rs = r.rows.filter((x) => x.rows === rows && x.d === d);
    const base = rs.find((x) => x.kind === 'v2-json-fp64') as ProtocolRow;
    return [
      `**${rows} rows × ${d.toLocaleString('en-US')} floats** (ms per batch; µs per row in brackets)`,
      '',
      '| protocol | request | encode + decode (gateway) | stand-in parse | round trip | CPU: client / stand-in | through the gateway |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rs.map(
        (x) =>
          `| ${names[x.kind]} | ${kb(x.requestBytes)} | ${fms(x.encodeMs + x.decodeMs)} (${f1(((x.encodeMs + x.decodeMs) * 1000) / rows)}) | ${fms(x.serverParseMs)} | ${fms(x.roundTripMs)} (${f1((x.roundTripMs * 1000) / rows)})${x === base ? '' : `, ${f2(x.roundTripMs / base.roundTripMs)}×`} | ${fms(x.clientCpuMs)} / ${fms(x.standInCpuMs)} | ${f1(x.gatewayMs)} |`,
      ),
    ];
  };
  return [
    '## Protocols (`node bench/protocols.ts`)',
    '',
    `One batch through each wire protocol, ${r.machine}; run ${r.date.slice(0, 10)}, ${r.rounds} round(s) protocol after protocol,`,
    `the round with the median round trip kept; load average ${f1(r.loadAverage[0])} at the start and ${f1(r.loadAverage[1])} at the end (2 cores: above 2, other work shared them).`,
    '"encode + decode" is the gateway\'s side of one batch with no I/O (request body built, reply read); "stand-in parse" is',
    'the stand-in reading the request (JSON.parse, or the binary tensor viewed in place); "round trip" is the HTTP client',
    'against `npm run backend` in its own process with no simulated latency, batch after batch (× against v2 JSON FP64);',
    '"through the gateway" is one client posting the batch\'s rows as agents of one key (one backend call a request), which',
    "adds the gateway's own JSON parse of the client's body, the same for every protocol. Values are full-precision floats.",
    '',
    ...table(32, 4096),
    '',
    ...table(32, 16),
    '',
    'Generated by `bench/protocols.ts` from `protocols.json`.',
  ].join('\n');
}

export function protocolsHeadline(r: ProtocolsRecord): string {
  const at = (kind: Kind) => r.rows.find((x) => x.kind === kind && x.d === 4096) as ProtocolRow;
  const json = at('v2-json-fp32');
  const binary = at('v2-binary-fp32');
  return `32 rows × 4,096 floats to an FP32 model: Triton's binary tensors cost the gateway ${f2(binary.encodeMs + binary.decodeMs)} ms a batch to encode and decode against ${f2(json.encodeMs + json.decodeMs)} ms for JSON (${kb(binary.requestBytes)} against ${kb(json.requestBytes)} on the wire), and a round trip to the stand-in takes ${f1(binary.roundTripMs)} ms against ${f1(json.roundTripMs)} ms (bench/RESULTS.md, "Protocols"; load average up to ${f1(Math.max(...r.loadAverage))} on 2 shared cores).`;
}

if (import.meta.main) {
  const recordFile = new URL('protocols.json', import.meta.url);
  const record: ProtocolsRecord = args['report-only']
    ? JSON.parse(await readFile(recordFile, 'utf8'))
    : await measure();
  if (!args['report-only']) await writeFile(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  await writeBetweenMarkers(path.join(root, 'bench/RESULTS.md'), 'section', protocolsSection(record), 'protocols');
  await writeBetweenMarkers(path.join(root, 'README.md'), 'headline', protocolsHeadline(record), 'protocols');
  console.log(protocolsSection(record));
}
