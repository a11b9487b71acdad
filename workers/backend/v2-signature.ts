// What a v2 model must look like to be batched here (DESIGN §10), checked against its metadata
// (the Open Inference Protocol's `$metadata_model_response`: `inputs` and `outputs`, each a list
// of `{name, datatype, shape}` with -1 for a variable-size dimension): one FP32 or FP64 input of
// shape [-1, D] (a dynamic batch of rows of D floats; D may be -1 too) and an output of shape [-1]
// or [-1, 1]. Names and datatype given in MODELS_FILE must agree with the metadata. Pure: the
// protocol (v2.ts) fetches the metadata and turns a refusal into a clear error.

import type {V2BackendOptions, V2Datatype} from '../../src/config.ts';
import {brief} from './json-wire.ts';

export interface V2Signature {
  readonly input: string;
  readonly output: string;
  readonly datatype: V2Datatype;
  /** Floats per row; -1 = any. */
  readonly d: number;
}

export type V2Refusal = {readonly expected: string; readonly found: string};

interface Tensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

const isFloat = (datatype: string): datatype is V2Datatype => datatype === 'FP32' || datatype === 'FP64';

/** The signature MODELS_FILE gives whole (input, output and datatype): no metadata is needed. */
export function givenSignature(o: V2BackendOptions): V2Signature | undefined {
  if (o.input === undefined || o.output === undefined || o.datatype === undefined) return undefined;
  return {input: o.input, output: o.output, datatype: o.datatype, d: -1};
}

/** The model's signature from its metadata and what MODELS_FILE gives, or what was expected and found. */
export function signatureFromMetadata(metadata: unknown, o: V2BackendOptions): V2Signature | V2Refusal {
  const inputs = tensors((metadata as {inputs?: unknown} | null)?.inputs);
  const outputs = tensors((metadata as {outputs?: unknown} | null)?.outputs);
  if (!inputs || !outputs)
    return {
      expected: 'metadata with "inputs" and "outputs" lists of {name, datatype, shape}',
      found: 'metadata without them',
    };
  if (inputs.length !== 1) {
    return {
      expected: 'one input',
      found: inputs.length === 0 ? "no inputs in the model's metadata" : `${inputs.length} inputs: ${list(inputs)}`,
    };
  }
  const input = inputs[0];
  if (o.input !== undefined && o.input !== input.name)
    return {expected: `input "${o.input}" (MODELS_FILE)`, found: `input ${show(input)}`};
  if (!isFloat(input.datatype)) return {expected: 'an FP32 or FP64 input', found: `input ${show(input)}`};
  if (o.datatype !== undefined && o.datatype !== input.datatype)
    return {expected: `datatype ${o.datatype} (MODELS_FILE)`, found: `input ${show(input)}`};
  const [batch, d] = input.shape;
  if (input.shape.length !== 2 || batch !== -1 || !(d === -1 || d >= 1)) {
    return {expected: 'an input of shape [-1, D] (a dynamic batch of rows of D floats)', found: `input ${show(input)}`};
  }
  const output =
    o.output === undefined ? (outputs.length === 1 ? outputs[0] : undefined) : outputs.find((t) => t.name === o.output);
  if (!output) {
    const expected =
      o.output === undefined
        ? 'one output, or "output" in MODELS_FILE naming one'
        : `output "${o.output}" (MODELS_FILE)`;
    return {expected, found: outputs.length === 0 ? "no outputs in the model's metadata" : `outputs ${list(outputs)}`};
  }
  const rowsOnly = output.shape.length === 1 && output.shape[0] === -1;
  const rowsByOne = output.shape.length === 2 && output.shape[0] === -1 && output.shape[1] === 1;
  if (!isFloat(output.datatype) || !(rowsOnly || rowsByOne)) {
    return {
      expected: 'an FP32 or FP64 output of shape [-1] or [-1, 1] (one value per row)',
      found: `output ${show(output)}`,
    };
  }
  return {input: input.name, output: output.name, datatype: input.datatype, d};
}

/** A metadata tensor list, or undefined when it is not one. */
function tensors(list: unknown): Tensor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const ok = list.every(
    (t) =>
      typeof t?.name === 'string' &&
      typeof t.datatype === 'string' &&
      Array.isArray(t.shape) &&
      t.shape.every((n: unknown) => Number.isSafeInteger(n)),
  );
  return ok ? (list as Tensor[]) : undefined;
}

/** The first few tensors, shown. */
function list(ts: readonly Tensor[]): string {
  return ts.slice(0, 4).map(show).join(', ') + (ts.length > 4 ? `, and ${ts.length - 4} more` : '');
}

/**
 * `"x" FP32 [-1, 16]`, the name quoted, name and datatype cut short with `…` (a server's metadata is
 * not ours to print whole; the client cuts its secrets out of the message, a cut one too).
 */
function show(t: Tensor): string {
  return `${brief(t.name)} ${t.datatype.length > 16 ? `${t.datatype.slice(0, 16)}…` : t.datatype} [${t.shape.slice(0, 8).join(', ')}${t.shape.length > 8 ? ', …' : ''}]`;
}
