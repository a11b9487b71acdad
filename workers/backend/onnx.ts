// An ONNX model run inside the actor thread (DESIGN §10 `onnx`), with onnxruntime-node. The actor
// that owns a key calls this backend like any other; one session per (thread, model file) is
// shared by every key of the model on the thread (BackendClients keys it by path and file id).
//
// onnxruntime-node is imported lazily, on the first onnx model of a thread (onnx-model.ts opens
// the file): a process, or a thread, that serves none never loads it. The main thread never opens
// a model.
//
// What the runtime does with the thread (read in onnxruntime-node 1.30's dist/backend.js):
// InferenceSession.create loads the model synchronously, and `run` is a Promise around a
// synchronous native call made in a setImmediate. So a batch's run occupies this actor thread
// for its whole duration (no libuv pool thread): the thread's event loop is not free while the
// model runs, and rows arriving meanwhile wait in the port until the run returns. That is what
// makes the work-conserving policy (workers/batch-policy.ts) right for this backend: one run at a
// time per key, and everything that gathered during it goes in the next. `intra_op_threads`
// adds ORT's own threads for one run (1 = the actor thread alone); on 2 cores with
// ACTOR_POOL_SIZE=1 the main thread and the actor thread already take both, so 1 is the default.
//
// Hot path: one tensor built straight from the rows (a Float32Array or Float64Array filled row
// by row: no object per row), one `run`, the output handed back as views; the actor checks it per
// row (a non-finite value fails its row only). A runtime error fails the batch `backend_error`.
// The batches that the model's keys on this thread cut in one turn share that one run.

import type {OnnxBackendOptions} from '../../src/config.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';
import {BackendError} from './backend.ts';
import {refusal, sameSignature} from '../../src/onnx-signature.ts';
import type {OnnxSignature} from '../../src/onnx-signature.ts';
import {loadChecked, ModelLoadError} from './onnx-model.ts';
import type {OpenedModel} from './onnx-model.ts';

interface Waiting {
  readonly rows: readonly Float64Array[];
  resolve(reply: BackendReply): void;
  reject(error: unknown): void;
}

export class OnnxBackend implements Backend {
  readonly #options: OnnxBackendOptions;
  #opened: Promise<{model: OpenedModel; signature: OnnxSignature}> | undefined;
  #closed = false;
  /** Runs scheduled or under way: close() waits for them before it releases the session. */
  readonly #runs = new Set<Promise<void>>();

  constructor(options: OnnxBackendOptions) {
    this.#options = options;
  }

  /** Opens the session now (a thread opens the models of its registry before traffic); never rejects. */
  async warm(): Promise<void> {
    if (this.#closed) return;
    await this.#open().catch(() => {});
  }

  #open(): Promise<{model: OpenedModel; signature: OnnxSignature}> {
    this.#opened ??= (async () => {
      const {path, file, intraOpThreads, signature} = this.#options;
      const loaded = await loadChecked(path, intraOpThreads, signature?.d);
      // The file the check thread approved is the one this thread serves, or nothing is served.
      if (signature && !sameSignature(signature, loaded.signature)) {
        await loaded.model.session.release().catch(() => {});
        throw new ModelLoadError(
          'the model checked at load (SIGHUP after changing a model file)',
          `${file} changed since`,
        );
      }
      // The first run of a session allocates its buffers: paid here, not by the first batch (nor measured by the cost fit).
      const {input} = loaded.signature;
      const zero =
        input.type === 'float32' ? new Float32Array(loaded.signature.d) : new Float64Array(loaded.signature.d);
      await loaded.model.session
        .run({[input.name]: new loaded.model.ort.Tensor(input.type, zero, [1, loaded.signature.d])})
        .catch(() => {});
      return loaded;
    })();
    return this.#opened;
  }

  async predict(call: BackendCall): Promise<BackendReply> {
    let opened: {model: OpenedModel; signature: OnnxSignature};
    try {
      this.#refuseIfClosed();
      opened = await this.#open();
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw new BackendError(
        'backend_error',
        refusal(
          call.model,
          this.#options.file,
          (error as ModelLoadError).expected ?? 'a model',
          (error as ModelLoadError).found ?? String(error),
        ),
      );
    }
    const d = opened.signature.d;
    if (call.rows.length > 0 && call.rows[0].length !== d)
      throw new BackendError(
        'backend_rejected',
        `the model takes vectors of ${d} numbers, this one has ${call.rows[0].length}`,
      );
    // Closed while the session opened: the session is released, or about to be.
    this.#refuseIfClosed();
    // Batches of the model's keys cut in the same turn share one run (below).
    const {promise, resolve, reject} = Promise.withResolvers<BackendReply>();
    this.#waiting.push({rows: call.rows, resolve, reject});
    if (this.#waiting.length === 1) {
      const run: Promise<void> = new Promise<void>((done) =>
        setImmediate(() => void this.#runWaiting(opened).finally(done)),
      ).finally(() => this.#runs.delete(run));
      this.#runs.add(run);
    }
    return promise;
  }

  #refuseIfClosed(): void {
    if (this.#closed)
      throw new BackendError(
        'backend_error',
        `model file ${this.#options.file}: its session is closed (thread stopping or model replaced)`,
      );
  }

  /**
   * The session is one runtime, shared by every key (agent type) of the model on this thread: the
   * batches its actors cut in one turn go in one run, their rows back to back, and each gets its
   * own slice of the output. If that run fails, each batch is run alone, so that a failure stays
   * with the batch that caused it.
   */
  readonly #waiting: Waiting[] = [];

  async #runWaiting(opened: {model: OpenedModel; signature: OnnxSignature}): Promise<void> {
    const calls = this.#waiting.splice(0);
    try {
      const values = await this.#run(opened, calls);
      let total = 0;
      for (const call of calls) total += call.rows.length;
      // The checked signature promises one value per row; a model that breaks it fails every batch of the run.
      if (values.length !== total)
        throw new BackendError('backend_bad_response', `the model returned ${values.length} values for ${total} rows`);
      let offset = 0;
      for (const call of calls) {
        call.resolve({values: values.subarray(offset, offset + call.rows.length)});
        offset += call.rows.length;
      }
    } catch (error) {
      if (calls.length === 1) return calls[0].reject(error);
      for (const call of calls) {
        await this.#run(opened, [call]).then(
          (values) => call.resolve({values}),
          (e: unknown) => call.reject(e),
        );
      }
    }
  }

  /** One run over the rows of `calls`, back to back; the output's values (one per row, unchecked). */
  async #run(
    {model, signature}: {model: OpenedModel; signature: OnnxSignature},
    calls: readonly Waiting[],
  ): Promise<Float32Array | Float64Array> {
    const d = signature.d;
    let n = 0;
    for (const call of calls) n += call.rows.length;
    const data = signature.input.type === 'float32' ? new Float32Array(n * d) : new Float64Array(n * d);
    let at = 0;
    for (const call of calls) for (const row of call.rows) data.set(row, at++ * d);
    let output: import('onnxruntime-node').Tensor | undefined;
    try {
      output = (
        await model.session.run({[signature.input.name]: new model.ort.Tensor(signature.input.type, data, [n, d])}, [
          signature.output.name,
        ])
      )[signature.output.name];
    } catch (error) {
      throw new BackendError('backend_error', `model run failed: ${String((error as Error).message).slice(0, 300)}`, {
        cause: error,
      });
    }
    // [batch] or [batch, 1]: either way one value per row, in order.
    return (output?.data as Float32Array | Float64Array | undefined) ?? new Float32Array(0);
  }

  /**
   * Releases the session once no run is scheduled or under way (a batch handed to predict() before
   * close() is still run and answered); predict() after close() is refused. Never release a session
   * under a run, and never end a thread inside one (src/threads/pooled-thread.ts, stopInstance).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#runs.size > 0) await Promise.allSettled([...this.#runs]);
    const opened = await this.#opened?.catch(() => undefined);
    await opened?.model.session.release().catch(() => {});
  }
}
