// The models the stand-in serves under the model servers' protocols (v2, TF Serving), and what
// they compute: DESIGN §4's formula. A model server sees a model and its rows, never our agent
// types, so its value of a row is the formula with the agent type empty, bias(model, ""), for the
// model's name on the server; an FP32 model computes on its inputs rounded to float32 and rounds
// its output to float32, as a real FP32 model's tensors would.

import type {V2Datatype} from '../config.ts';
import {bias, predictRow} from './formula.ts';

export interface SimulatedModel {
  /** The versions that may be asked for; the last is the latest (served when none is asked). */
  readonly versions: readonly string[];
  readonly input: string;
  readonly output: string;
  readonly datatype: V2Datatype;
  /** Floats per row; -1 = any. */
  readonly d: number;
  /** The output's shape: [-1] (`rows`) or [-1, 1] (`rows-by-one`). */
  readonly outputShape: 'rows' | 'rows-by-one';
}

/** The models a stand-in knows, by name: undefined = not found. */
export type ModelCatalog = (name: string) => SimulatedModel | undefined;

export const defaultModel: SimulatedModel = Object.freeze({
  versions: Object.freeze(['1']),
  input: 'input',
  output: 'output',
  datatype: 'FP64',
  d: -1,
  outputShape: 'rows-by-one',
});

const defaultFp32: SimulatedModel = Object.freeze({...defaultModel, datatype: 'FP32'});

/**
 * `npm run backend`: every name is a model (rows of any length, version 1), as every name is under
 * POST /predict: FP64, or FP32 when the name ends in `_fp32`.
 */
export const anyModel: ModelCatalog = (name) => (name.endsWith('_fp32') ? defaultFp32 : defaultModel);

/** The version a request names, or the latest; undefined when the model has no such version. */
export function servedVersion(model: SimulatedModel, asked: string | undefined): string | undefined {
  if (asked === undefined) return model.versions.at(-1);
  return model.versions.includes(asked) ? asked : undefined;
}

/**
 * The model's value of each row of a row-major tensor of `d` floats (already float32-rounded when
 * the model is FP32): DESIGN §4's formula with bias(name, ""), rounded to float32 for FP32.
 */
export function servedValues(
  name: string,
  model: SimulatedModel,
  tensor: ArrayLike<number> & {subarray(a: number, b: number): ArrayLike<number>},
  d: number,
): Float64Array {
  const b = bias(name, '');
  const rows = d === 0 ? 0 : tensor.length / d;
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const value = predictRow(b, tensor.subarray(i * d, (i + 1) * d));
    values[i] = model.datatype === 'FP32' ? Math.fround(value) : value;
  }
  return values;
}
