// The load-time check of the registry's onnx models (DESIGN §10), run at start and on SIGHUP before
// a registry is used: every model is opened once by a short-lived child process
// (workers/onnx-check.ts) and must have one float32/float64 input [batch, D] with a dynamic batch
// and one output [batch] or [batch, 1]. The checked registry carries each model's signature
// (input/output names, types, shapes, and the file's identity) and D as its vector_length, so
// the main thread validates vectors against the model without ever loading it, and GET /models
// shows it. Any refusal throws a RegistryError naming the model, the file, what was expected and
// what was found: at start the process stops, on SIGHUP the old registry stays.

import {fork} from 'node:child_process';
import type {BackendOptions, OnnxBackendOptions} from './config.ts';
import {RegistryError} from './registry.ts';
import type {ModelEntry, Registry} from './registry.ts';
import {refusal} from './onnx-signature.ts';
import type {OnnxSignature} from './onnx-signature.ts';

export interface CheckJob {
  readonly model: string;
  readonly path: string;
  readonly vectorLength: number | undefined;
}

export type CheckResult =
  | {readonly model: string; readonly signature: OnnxSignature}
  | {readonly model: string; readonly expected: string; readonly found: string};

const checkEntry = new URL('../workers/onnx-check.ts', import.meta.url);
/** Opening every model of a registry takes far less; past this the check itself is refused. */
const checkTimeoutMs = 300_000;

const isOnnx = (b: BackendOptions): b is OnnxBackendOptions => b.kind === 'onnx';

/** The registry with every onnx model checked; throws RegistryError listing every refusal. */
export async function checkModels(registry: Registry): Promise<Registry> {
  const onnx = [...(registry.models ?? [])].filter(([, m]) => isOnnx(m.backend));
  if (onnx.length === 0) return registry;
  const jobs: CheckJob[] = onnx.map(([model, m]) => ({
    model,
    path: (m.backend as OnnxBackendOptions).path,
    vectorLength: m.vectorLength,
  }));
  const {results} = await runModelCheck(jobs);
  const models = new Map<string, ModelEntry>(registry.models);
  const problems: string[] = [];
  for (const result of results) {
    const entry = models.get(result.model) as ModelEntry;
    const backend = entry.backend as OnnxBackendOptions;
    // A file that is not there is named by its full path too: relative ones are to MODELS_FILE's folder.
    const missing = 'found' in result && result.found.startsWith('no readable file');
    const file = missing ? `${backend.file} (${backend.path})` : backend.file;
    if ('expected' in result) problems.push(refusal(result.model, file, result.expected, result.found));
    else
      models.set(result.model, {
        ...entry,
        vectorLength: result.signature.d,
        backend: {...backend, signature: result.signature},
      });
  }
  if (problems.length > 0)
    throw new RegistryError(
      `MODELS_FILE: ${problems.length === 1 ? 'a model is' : `${problems.length} models are`} refused:\n  ${problems.join('\n  ')}`,
    );
  return {...registry, models};
}

/** What the check process found, and its peak RSS (Linux; for the tests: a refused file must not cost a huge read). */
export interface CheckReport {
  readonly results: readonly CheckResult[];
  readonly peakRssMb: number | undefined;
}

/** Runs the check process over `jobs`; throws RegistryError when it cannot answer for every model. */
export function runModelCheck(jobs: readonly CheckJob[]): Promise<CheckReport> {
  return new Promise((resolve, reject) => {
    // Plain node flags: the parent's --inspect or heap flags are not the checker's business.
    const child = fork(checkEntry, {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString();
    });
    let report: CheckReport | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), checkTimeoutMs);
    child.once('message', (message) => {
      report = message as CheckReport;
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new RegistryError(`MODELS_FILE: the model check could not run: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (report && report.results.length === jobs.length) return resolve(report);
      const how = signal ? `was ended by ${signal}` : `exited with code ${code}`;
      const models = jobs.map((j) =>
        refusal(j.model, j.path, 'a model onnxruntime opens', `the check process ${how} while opening it`),
      );
      reject(
        new RegistryError(
          `MODELS_FILE: the model check failed:\n  ${models.join('\n  ')}${stderr ? `\n${stderr.trim().slice(0, 1000)}` : ''}`,
        ),
      );
    });
    child.send(jobs);
  });
}
