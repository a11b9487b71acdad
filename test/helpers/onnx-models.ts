// ONNX models for the tests, written into a temp folder: small MLPs checked against the same MLP in
// plain TypeScript (scripts/make-model.ts), and the odd models the load-time check must refuse.

import type {ExecutionContext} from 'ava';
import {mkdtemp, open, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {encodeModel, mlp, mlpGraph, mlpPredict, writeMlp} from '../../scripts/make-model.ts';
import type {Mlp} from '../../scripts/make-model.ts';

export {mlp, mlpPredict, writeMlp};
export type {Mlp};

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-onnx-'));
  t.teardown(() => rm(dir, {recursive: true, force: true}));
  return dir;
}

export async function writeRegistry(dir: string, models: object): Promise<string> {
  const file = path.join(dir, 'models.json');
  await writeFile(file, JSON.stringify({models}));
  return file;
}

/** Models the check refuses, each with what its refusal must say. */
export const oddModels = {
  /** Two inputs x and z, added. */
  twoInputs: (file: string) =>
    writeFile(
      file,
      encodeModel({
        inputs: [
          {name: 'x', type: 'float32', shape: ['batch', 4]},
          {name: 'z', type: 'float32', shape: ['batch', 4]},
        ],
        outputs: [{name: 's', type: 'float32', shape: ['batch', 4]}],
        nodes: [{op: 'Add', inputs: ['x', 'z'], outputs: ['s']}],
        initializers: [],
      }),
    ),
  /** An int64 input, passed through. */
  int64Input: (file: string) =>
    writeFile(
      file,
      encodeModel({
        inputs: [{name: 'x', type: 'int64', shape: ['batch', 4]}],
        outputs: [{name: 'y', type: 'int64', shape: ['batch', 4]}],
        nodes: [{op: 'Identity', inputs: ['x'], outputs: ['y']}],
        initializers: [],
      }),
    ),
  /** An MLP whose batch dimension is fixed at 1. */
  fixedBatch: (file: string) => writeFile(file, encodeModel(mlpGraph(mlp([4, 8, 1]), 1))),
  /**
   * Loads fine, fails at run time unless rows × 2 is a multiple of 3: x [batch, 2] is reshaped to
   * [-1, 3] (so a batch of 1 or 2 rows is a runtime error in onnxruntime).
   */
  runtimeError: (file: string) =>
    writeFile(
      file,
      encodeModel({
        inputs: [{name: 'x', type: 'float32', shape: ['batch', 2]}],
        outputs: [{name: 'y', type: 'float32', shape: ['batch', 1]}],
        nodes: [
          {op: 'Reshape', inputs: ['x', 'shape'], outputs: ['r']},
          {op: 'MatMul', inputs: ['r', 'w'], outputs: ['y']},
        ],
        initializers: [
          {name: 'shape', type: 'int64', dims: [2], values: [-1, 3]},
          {name: 'w', type: 'float32', dims: [3, 1], values: [1, 2, 3]},
        ],
      }),
    ),
  /** `mb` MiB of random bytes, written without holding them all. */
  garbage: async (file: string, mb: number) => {
    const handle = await open(file, 'w');
    const chunk = Buffer.alloc(1 << 20);
    let seed = 7;
    for (let i = 0; i < mb; i++) {
      for (let j = 0; j < chunk.length; j += 4)
        chunk.writeUInt32LE((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), j);
      await handle.write(chunk);
    }
    await handle.close();
  },
};

/** The ONNX answers' tolerance: relative error at most 1e-5 against the plain-TypeScript MLP. */
export function closeTo(got: unknown, want: number): boolean {
  return typeof got === 'number' && Math.abs(got - want) <= 1e-5 * Math.abs(want);
}

/** A row of `d` numbers in [-1, 1] (three decimals), from `random`. */
export function row(d: number, random: () => number = Math.random): number[] {
  return Array.from({length: d}, () => Math.round((random() * 2 - 1) * 1000) / 1000);
}
