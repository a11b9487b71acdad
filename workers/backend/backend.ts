// The neural-network backend as the actors see it: one call per batch, one value per row.
// Implementations: `simulated.ts` (DESIGN §4's exact network, in-process), `onnx.ts` (a model in
// the thread), and the HTTP client `http-client.ts` speaking one of three protocols (`http.ts`
// ours, `v2.ts` the Open Inference Protocol, `tfserving.ts`). `create.ts` picks one; nothing here
// imports an implementation.

import type {AgentErrorCode} from '../../src/errors.ts';

export interface BackendCall {
  readonly model: string;
  readonly agentType: string;
  /** The batch's matrix: every row has the same length. */
  readonly rows: readonly Float64Array[];
  /** Epoch ms: the earliest deadline among the batch's agents; no attempt starts after it. */
  readonly deadline: number;
  /** The batch's id (`b-1-17`), sent where a protocol carries one (the Open Inference Protocol's `id`). */
  readonly batchId?: string;
}

export interface BackendReply {
  /**
   * One value per row, in row order, as the backend sent it: unchecked. The actor checks the
   * reply once, where it arrives (workers/reply-check.ts).
   */
  readonly values: ArrayLike<unknown>;
  /** Rows the backend refused (row index -> reason); their values are ignored. */
  readonly rejected?: ReadonlyMap<number, string>;
}

/** A failure of the whole call; every row of the batch gets `code`. */
export class BackendError extends Error {
  override name = 'BackendError';
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface Backend {
  predict(call: BackendCall): Promise<BackendReply>;
  close(): Promise<void>;
  /** Prepares before the first call (an onnx model opens its session); resolves when done or failed. */
  warm?(): Promise<void>;
  /** The registry was reloaded (SIGHUP): what was discovered from the backend (v2 metadata) is asked again. */
  registryReloaded?(): void;
}
