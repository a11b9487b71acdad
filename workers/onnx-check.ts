// Child-process entry of the load-time check (src/onnx-models.ts): opens each onnx model of a
// registry with onnxruntime, checks its signature (src/onnx-signature.ts), sends back
// each model's signature or what was expected and found, and exits. A process of its own, not a
// thread: the main thread never loads a model, and a file that crashes the native runtime ends
// this process, not the service.

import {readFileSync} from 'node:fs';
import {loadChecked} from './backend/onnx-model.ts';
import type {ModelLoadError} from './backend/onnx-model.ts';
import type {CheckJob, CheckResult} from '../src/onnx-models.ts';

const send = process.send?.bind(process);
if (!send) throw new Error('workers/onnx-check.ts runs as a child process (src/onnx-models.ts)');

process.once('message', async (jobs: CheckJob[]) => {
  const results: CheckResult[] = [];
  for (const job of jobs) {
    try {
      const {model, signature} = await loadChecked(job.path, 1, job.vectorLength);
      await model.session.release().catch(() => {});
      results.push({model: job.model, signature});
    } catch (error) {
      const e = error as Partial<ModelLoadError>;
      results.push({model: job.model, expected: e.expected ?? 'an ONNX model', found: e.found ?? String(error)});
    }
  }
  // Its peak memory goes back too: a huge file of garbage must be refused without a huge read.
  const peak = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  send({results, peakRssMb: peak ? Number(peak) / 1024 : undefined}, () => process.exit(0));
});
