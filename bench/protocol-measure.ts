// One protocol measured once (bench/protocols.ts runs it in rounds): (a) the gateway's encode and
// decode and the stand-in's parse of one batch, no I/O; (b) batches through the HTTP client to the
// stand-in, wall time and both processes' CPU; (c) one request a batch through the gateway.

import type {ChildProcess} from 'node:child_process';
import {request} from 'undici';
import {defaultModel} from '../src/simulator/catalog.ts';
import {parseInferRequest} from '../src/simulator/v2.ts';
import type {BackendCall} from '../workers/backend/backend.ts';
import {HttpClient} from '../workers/backend/http-client.ts';
import type {Exchanger, WireReply} from '../workers/backend/wire-protocol.ts';
import {datatype, protocolOf, serverModel} from './protocol-kinds.ts';
import type {Kind, ProtocolRow} from './protocol-kinds.ts';
import {cpuSeconds} from './servers.ts';

/** Full-precision values from a seeded generator. */
export function matrix(rows: number, d: number, seed: number): Float64Array[] {
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

export async function measureOne(
  kind: Kind,
  rows: Float64Array[],
  backendUrl: string,
  standIn: ChildProcess,
  gatewayUrl: string,
  quick: boolean,
): Promise<ProtocolRow> {
  const budget = quick ? 300 : 1500;
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
  const batches = (quick ? 10 : 40) * (rows[0].length > 1000 ? 1 : 10);
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

  const gatewayMs = await throughGateway(kind, rows, gatewayUrl, quick ? 5 : 20);
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
