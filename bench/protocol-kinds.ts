// The protocols the `protocols` scenario compares (bench/protocols.ts): each kind's name, the
// stand-in's model behind it, its client-side protocol and options, and its registry entry for the
// gateway; and what one measurement of a kind records.

import {httpBackend} from '../src/config.ts';
import type {HttpDefaults, TfServingBackendOptions, V2BackendOptions, V2Datatype} from '../src/config.ts';
import type {HttpClientOptions} from '../workers/backend/http-client.ts';
import {ourProtocol} from '../workers/backend/http.ts';
import {tfServingProtocol} from '../workers/backend/tfserving.ts';
import {V2Protocol} from '../workers/backend/v2.ts';
import type {WireProtocol} from '../workers/backend/wire-protocol.ts';

export type Kind = 'ours' | 'v2-json-fp64' | 'v2-json-fp32' | 'v2-binary-fp64' | 'v2-binary-fp32' | 'tfserving';
export const kinds: Kind[] = ['ours', 'v2-json-fp64', 'v2-json-fp32', 'v2-binary-fp64', 'v2-binary-fp32', 'tfserving'];
export const names: Record<Kind, string> = {
  ours: 'ours (JSON)',
  'v2-json-fp64': 'v2 JSON, FP64',
  'v2-json-fp32': 'v2 JSON, FP32',
  'v2-binary-fp64': 'v2 binary, FP64',
  'v2-binary-fp32': 'v2 binary, FP32',
  tfserving: 'TF Serving (JSON)',
};
/** The stand-in's model behind each v2 kind: its datatype decides the tensor's. */
export const serverModel = (k: Kind) => (k.endsWith('fp32') ? 'bench_fp32' : 'bench_fp64');
export const datatype = (k: Kind): V2Datatype => (k.endsWith('fp32') ? 'FP32' : 'FP64');

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

export function protocolOf(kind: Kind, url: string): {protocol: WireProtocol; options: HttpClientOptions} {
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

/** The MODELS_FILE backend of a kind, the gateway's registry entry for the same server model as protocolOf's. */
export function registryBackend(kind: Kind, url: string): object {
  if (kind === 'ours') return {kind: 'http', url: `${url}/predict`};
  if (kind === 'tfserving') return {kind: 'tfserving', url, model: 'bench_fp64'};
  const {model, input, output, datatype, binary} = protocolOf(kind, url).options as V2BackendOptions;
  return {kind: 'v2', url, model, input, output, datatype, binary};
}
