// Opening an ONNX model file in an actor thread or in the check process (workers/onnx-check.ts):
// onnxruntime-node imported once, on first use (a thread that serves no onnx model never loads
// it), the file's identity (size, mtime, inode: a changed file is loaded anew), the session, and
// its inputs and outputs checked against what DESIGN §10 accepts (src/onnx-signature.ts). A file
// that cannot be read, loaded or served is a ModelLoadError with what was expected and found.

import {stat} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import {checkSignature} from '../../src/onnx-signature.ts';
import type {OnnxSignature, ValueMetadata} from '../../src/onnx-signature.ts';

/** Where `npm run model` (scripts/make-model.ts) writes the models examples/models.json serves. */
const examplesModels = fileURLToPath(new URL('../../examples/models/', import.meta.url));

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

let runtime: Promise<Ort> | undefined;
/** onnxruntime-node, imported once per thread, on first use. */
export function onnxRuntime(): Promise<Ort> {
  runtime ??= import('onnxruntime-node');
  return runtime;
}

export interface OpenedModel {
  readonly session: Session;
  readonly ort: Ort;
  readonly inputs: readonly ValueMetadata[];
  readonly outputs: readonly ValueMetadata[];
  readonly fileId: string;
}

/** Opens a model file; throws with `expected`/`found` wording when it cannot be read or loaded. */
export async function openModel(path: string, intraOpThreads: number): Promise<OpenedModel> {
  let fileId: string;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error('not a regular file'), {code: 'EISDIR'});
    fileId = `${s.size}:${s.mtimeMs}:${s.ino}`;
  } catch (error) {
    // The examples' models are generated, not committed: say how to get one.
    const hint = path.startsWith(examplesModels) ? "; `npm run model` writes the examples' model" : '';
    throw new ModelLoadError(
      'an ONNX model file',
      `no readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})${hint}`,
    );
  }
  const ort = await onnxRuntime();
  let session: Session;
  try {
    // ORT's own log is off (4 = fatal only): a failed run is logged by the actor, once, with its batch.
    session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 4,
    });
  } catch (error) {
    // ORT's message ("Load model from … failed:Protobuf parsing failed.") names the problem; cut it short.
    throw new ModelLoadError(
      'an ONNX model',
      `a file onnxruntime cannot load: ${String((error as Error).message).slice(0, 300)}`,
    );
  }
  return {
    session,
    ort,
    inputs: session.inputMetadata as ValueMetadata[],
    outputs: session.outputMetadata as ValueMetadata[],
    fileId,
  };
}

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  readonly expected: string;
  readonly found: string;

  constructor(expected: string, found: string) {
    super(`expected ${expected}; found ${found}`);
    this.expected = expected;
    this.found = found;
  }
}

/** Opens and checks a model: its signature, or a ModelLoadError. */
export async function loadChecked(
  path: string,
  intraOpThreads: number,
  vectorLength: number | undefined,
): Promise<{model: OpenedModel; signature: OnnxSignature}> {
  const model = await openModel(path, intraOpThreads);
  const check = checkSignature(model.inputs, model.outputs, vectorLength, model.fileId);
  if ('ok' in check) return {model, signature: check.ok};
  await model.session.release().catch(() => {});
  throw new ModelLoadError(check.expected, check.found);
}
