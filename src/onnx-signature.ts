// What an ONNX model must look like to be served (DESIGN §10), checked once at load, never at the
// first request: one float32 or float64 input of shape [batch, D] with a dynamic batch, one output
// of shape [batch] or [batch, 1], and D equal to the registry's vector_length when it gives one.
// Pure: it reads the metadata onnxruntime reports (InferenceSession.inputMetadata/outputMetadata)
// and returns the model's signature or what was expected and what was found. The check process
// (workers/onnx-check.ts) runs it at start and on SIGHUP; the actor thread runs it again on the
// session it opens, in case the file changed in between.

/** One input or output as onnxruntime reports it: a string dimension is symbolic (dynamic). */
export interface ValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

export interface OnnxValue {
  readonly name: string;
  readonly type: 'float32' | 'float64';
  /** As the model declares it, e.g. ["batch", 16]. */
  readonly shape: readonly (number | string)[];
}

export interface OnnxSignature {
  readonly input: OnnxValue;
  readonly output: OnnxValue;
  /** Floats per row: the input's second dimension. */
  readonly d: number;
  /** size, mtime and inode of the file checked: a changed file is loaded anew on SIGHUP. */
  readonly fileId: string;
}

const floatTypes = new Set(['float32', 'float64']);

const shapeText = (shape: readonly (number | string)[] | undefined) =>
  shape ? `[${shape.map((d) => (typeof d === 'number' ? d : JSON.stringify(d))).join(', ')}]` : 'no shape';
const valueText = (v: ValueMetadata) => `${v.name}: ${v.isTensor ? `${v.type} ${shapeText(v.shape)}` : 'not a tensor'}`;
const listText = (values: readonly ValueMetadata[]) => `${values.length} (${values.map(valueText).join('; ')})`;
const dynamic = (dim: number | string | undefined) => typeof dim === 'string';

export type SignatureCheck = {readonly ok: OnnxSignature} | {readonly expected: string; readonly found: string};

/** The signature of a model with these inputs and outputs, or what was expected and found. */
export function checkSignature(
  inputs: readonly ValueMetadata[],
  outputs: readonly ValueMetadata[],
  vectorLength: number | undefined,
  fileId: string,
): SignatureCheck {
  if (inputs.length !== 1) return {expected: 'one input', found: `inputs: ${listText(inputs)}`};
  if (outputs.length !== 1) return {expected: 'one output', found: `outputs: ${listText(outputs)}`};
  const [input, output] = [inputs[0], outputs[0]];
  if (!input.isTensor || !floatTypes.has(input.type ?? ''))
    return {expected: 'a float32 or float64 input', found: `input ${valueText(input)}`};
  const shape = input.shape ?? [];
  if (shape.length !== 2) return {expected: 'an input of shape [batch, D]', found: `input ${valueText(input)}`};
  if (!dynamic(shape[0]))
    return {
      expected: 'an input whose batch dimension is dynamic',
      found: `input ${valueText(input)} (a fixed batch of ${shape[0]})`,
    };
  const d = shape[1];
  if (typeof d !== 'number' || d < 1)
    return {expected: 'an input whose second dimension D is a fixed number', found: `input ${valueText(input)}`};
  if (!output.isTensor || !floatTypes.has(output.type ?? ''))
    return {expected: 'a float32 or float64 output', found: `output ${valueText(output)}`};
  const out = output.shape ?? [];
  if (!dynamic(out[0]) || out.length > 2 || (out.length === 2 && out[1] !== 1))
    return {expected: 'an output of shape [batch] or [batch, 1]', found: `output ${valueText(output)}`};
  if (vectorLength !== undefined && vectorLength !== d)
    return {expected: `D = vector_length = ${vectorLength}`, found: `input ${valueText(input)}, D = ${d}`};
  const value = (v: ValueMetadata, s: readonly (number | string)[]): OnnxValue => ({
    name: v.name,
    type: v.type as 'float32' | 'float64',
    shape: s,
  });
  return {ok: {input: value(input, shape), output: value(output, out), d, fileId}};
}

/** The refusal's text: model, file, expected, found (DESIGN §10). */
export function refusal(model: string, file: string, expected: string, found: string): string {
  return `model ${JSON.stringify(model)}, file ${file}: expected ${expected}; found ${found}`;
}

/** Same inputs and outputs (a file changed between the check and the actor's load is not served). */
export function sameSignature(a: OnnxSignature, b: OnnxSignature): boolean {
  const same = (x: OnnxValue, y: OnnxValue) =>
    x.name === y.name && x.type === y.type && shapeText(x.shape) === shapeText(y.shape);
  return a.d === b.d && same(a.input, b.input) && same(a.output, b.output);
}
