// `npm run model [-- OUT [D,H1,...,1]]` writes a seeded MLP as an ONNX file: by default the value
// network examples/models.json serves (16 -> 1024 -> 1024 -> 1, ReLU, float32) at
// examples/models/policy-mlp.onnx. Nothing is downloaded: the weights come from a seeded generator
// and the file is written with a small protobuf writer (onnx.proto's field numbers, below), so the
// production dependencies carry no protobuf library. Tests and the bench import `mlp`,
// `writeMlp` and `mlpPredict` (the same MLP in plain TypeScript, the reference every answer is
// checked against) and the odd models the load-time checks must refuse.
//
//   x [batch, D] -> MatMul W1 -> Add b1 -> Relu -> ... -> MatMul Wk -> Add bk -> y [batch, 1]

import {mkdirSync, writeFileSync} from 'node:fs';
import {dirname} from 'node:path';
import {fileURLToPath} from 'node:url';

// --- protobuf: varints and length-delimited fields are all an ONNX model needs -------------------

type Field = Uint8Array;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Wire type 0 (varint); negative numbers as 10-byte two's complement are not needed here. */
const int = (field: number, value: number): Field => Uint8Array.from([...varint(field << 3), ...varint(value)]);
/** Wire type 2: bytes, a string or an embedded message. */
const bytes = (field: number, body: Uint8Array): Field =>
  concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(body.length)]), body]);
const str = (field: number, text: string): Field => bytes(field, new TextEncoder().encode(text));
const msg = (field: number, ...body: Field[]): Field => bytes(field, concat(body));

// onnx.proto field numbers (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, TypeProto).
const Model = {irVersion: 1, producerName: 2, graph: 7, opsetImport: 8} as const;
const Opset = {domain: 1, version: 2} as const;
const Graph = {node: 1, name: 2, initializer: 5, input: 11, output: 12} as const;
const Node = {input: 1, output: 2, name: 3, opType: 4} as const;
const Tensor = {dims: 1, dataType: 2, name: 8, rawData: 9} as const;
const ValueInfo = {name: 1, type: 2} as const;
/** TypeProto.tensor_type, TypeProto.Tensor.{elem_type, shape}, TensorShapeProto.dim, Dimension.{dim_value, dim_param}. */
const Type = {tensorType: 1, elemType: 1, shape: 2, dim: 1, dimValue: 1, dimParam: 2} as const;
/** TensorProto.DataType. */
export const DataType = {float32: 1, int64: 7, float64: 11} as const;
export type ElemType = keyof typeof DataType;

/** A dimension: a number is fixed, a string is symbolic (dynamic, e.g. the batch). */
export type Dim = number | string;

export interface ValueSpec {
  readonly name: string;
  readonly type: ElemType;
  readonly shape: readonly Dim[];
}

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface Initializer {
  readonly name: string;
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly values: ArrayLike<number>;
}

export interface GraphSpec {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly Initializer[];
}

function valueInfo(field: number, v: ValueSpec): Field {
  const dims = v.shape.map((d) => msg(Type.dim, typeof d === 'number' ? int(Type.dimValue, d) : str(Type.dimParam, d)));
  return msg(
    field,
    str(ValueInfo.name, v.name),
    msg(ValueInfo.type, msg(Type.tensorType, int(Type.elemType, DataType[v.type]), msg(Type.shape, ...dims))),
  );
}

function rawData(type: ElemType, values: ArrayLike<number>): Uint8Array {
  const array =
    type === 'float32'
      ? Float32Array.from(values)
      : type === 'float64'
        ? Float64Array.from(values)
        : BigInt64Array.from(Array.from(values, BigInt));
  // Typed arrays are little-endian on every platform Node runs on here, as ONNX's raw_data is.
  return new Uint8Array(array.buffer);
}

/** The bytes of an ONNX model (IR 7, opset 13) computing `graph`. */
export function encodeModel(graph: GraphSpec): Uint8Array {
  const body = [
    ...graph.nodes.map((n, i) =>
      msg(
        Graph.node,
        ...n.inputs.map((x) => str(Node.input, x)),
        ...n.outputs.map((y) => str(Node.output, y)),
        str(Node.name, `n${i}`),
        str(Node.opType, n.op),
      ),
    ),
    str(Graph.name, 'agent-batcher'),
    ...graph.initializers.map((t) =>
      msg(
        Graph.initializer,
        ...t.dims.map((d) => int(Tensor.dims, d)),
        int(Tensor.dataType, DataType[t.type]),
        str(Tensor.name, t.name),
        bytes(Tensor.rawData, rawData(t.type, t.values)),
      ),
    ),
    ...graph.inputs.map((v) => valueInfo(Graph.input, v)),
    ...graph.outputs.map((v) => valueInfo(Graph.output, v)),
  ];
  return concat([
    int(Model.irVersion, 7),
    str(Model.producerName, 'agent-batcher make-model'),
    msg(Model.graph, ...body),
    msg(Model.opsetImport, str(Opset.domain, ''), int(Opset.version, 13)),
  ]);
}

// --- the MLP ------------------------------------------------------------------------------------

export interface Mlp {
  /** Layer widths, input first, 1 last: [D, H1, ..., 1]. */
  readonly sizes: readonly number[];
  readonly type: 'float32' | 'float64';
  /** Per layer: weights [in, out] row-major, and biases [out], as stored in the file. */
  readonly weights: readonly Float64Array[];
  readonly biases: readonly Float64Array[];
}

/** mulberry32: a small seeded generator, so the same seed writes the same file everywhere. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An MLP with He-uniform weights from `seed`; the last layer is small with a bias of 1 so outputs stay away from 0 (relative errors stay meaningful). */
export function mlp(sizes: readonly number[], type: 'float32' | 'float64' = 'float32', seed = 20): Mlp {
  if (sizes.length < 2 || sizes.at(-1) !== 1 || sizes.some((s) => !Number.isInteger(s) || s < 1))
    throw new Error(`layer sizes must be positive integers ending in 1, got ${sizes.join(',')}`);
  const random = seeded(seed);
  // Stored values: float32 models keep float32-rounded weights, and the reference uses the same.
  const round = type === 'float32' ? Math.fround : (x: number) => x;
  const weights: Float64Array[] = [];
  const biases: Float64Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [fanIn, fanOut] = [sizes[l], sizes[l + 1]];
    // The last layer is scaled down so that outputs stay near its bias of 1, away from 0.
    const limit = Math.sqrt(6 / fanIn) * (l + 2 === sizes.length ? 0.05 : 1);
    weights.push(Float64Array.from({length: fanIn * fanOut}, () => round((random() * 2 - 1) * limit)));
    biases.push(
      Float64Array.from({length: fanOut}, () => (l + 2 === sizes.length ? 1 : round((random() * 2 - 1) * 0.1))),
    );
  }
  return {sizes, type, weights, biases};
}

/** The graph of an MLP, input `x` [batch, D] and output `y` [batch, 1]. */
export function mlpGraph(m: Mlp, batch: Dim = 'batch'): GraphSpec {
  const nodes: NodeSpec[] = [];
  const initializers: Initializer[] = [];
  let x = 'x';
  const layers = m.weights.length;
  for (let l = 0; l < layers; l++) {
    const [fanIn, fanOut] = [m.sizes[l], m.sizes[l + 1]];
    initializers.push(
      {name: `w${l}`, type: m.type, dims: [fanIn, fanOut], values: m.weights[l]},
      {name: `b${l}`, type: m.type, dims: [fanOut], values: m.biases[l]},
    );
    const last = l + 1 === layers;
    nodes.push({op: 'MatMul', inputs: [x, `w${l}`], outputs: [`m${l}`]});
    nodes.push({op: 'Add', inputs: [`m${l}`, `b${l}`], outputs: [last ? 'y' : `a${l}`]});
    if (!last) nodes.push({op: 'Relu', inputs: [`a${l}`], outputs: [`h${l}`]});
    x = `h${l}`;
  }
  return {
    inputs: [{name: 'x', type: m.type, shape: [batch, m.sizes[0]]}],
    outputs: [{name: 'y', type: m.type, shape: [batch, 1]}],
    nodes,
    initializers,
  };
}

/** The MLP's output for one row, in float64 (the reference for every answer of an onnx model). */
export function mlpPredict(m: Mlp, row: ArrayLike<number>): number {
  const round = m.type === 'float32' ? Math.fround : (v: number) => v;
  let x = Float64Array.from(row, round);
  for (let l = 0; l < m.weights.length; l++) {
    const [fanIn, fanOut] = [m.sizes[l], m.sizes[l + 1]];
    const w = m.weights[l];
    const out = Float64Array.from(m.biases[l]);
    for (let i = 0; i < fanIn; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      for (let j = 0; j < fanOut; j++) out[j] += xi * w[i * fanOut + j];
    }
    if (l + 1 < m.weights.length) for (let j = 0; j < fanOut; j++) out[j] = Math.max(0, out[j]);
    x = out;
  }
  return x[0];
}

/** Writes the MLP to `path` (folders created); returns the model for reference answers. */
export function writeMlp(path: string, m: Mlp): Mlp {
  mkdirSync(dirname(path), {recursive: true});
  writeFileSync(path, encodeModel(mlpGraph(m)));
  return m;
}

/** The value network examples/models.json serves. */
export const exampleModel = {path: 'examples/models/policy-mlp.onnx', sizes: [16, 1024, 1024, 1]} as const;

// Run as a program (`npm run model`): its arguments are checked in model-cli.ts.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  void import('./model-cli.ts').then((cli) => cli.runModelCli(process.argv.slice(2)));
