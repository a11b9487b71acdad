// The neural-network backend as the actors see it: one call per batch, one value per row.
// The simulated network lives here; the HTTP client (BACKEND_URL) implements the same interface.

import {setTimeout as sleep} from 'node:timers/promises';
import type {AgentErrorCode} from '../src/errors.ts';
import type {BackendOptions} from '../src/config.ts';
import {bias, predictRow} from '../src/backend/formula.ts';

export interface BackendCall {
  readonly model: string;
  readonly agentType: string;
  /** The batch's matrix: every row has the same length. */
  readonly rows: readonly Float64Array[];
  /** Epoch ms: the earliest deadline among the batch's agents; no attempt starts after it. */
  readonly deadline: number;
}

export interface BackendReply {
  /** One prediction per row, in row order. */
  readonly values: ArrayLike<number>;
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
}

/** DESIGN §4's network: exact output after a latency uniform in [min, max] ms, whatever the batch size. */
export class SimulatedBackend implements Backend {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: {latencyMinMs: number; latencyMaxMs: number}, random: () => number = Math.random) {
    this.#minMs = options.latencyMinMs;
    this.#maxMs = options.latencyMaxMs;
    this.#random = random;
  }

  async predict(call: BackendCall): Promise<BackendReply> {
    const latency = this.#minMs + this.#random() * (this.#maxMs - this.#minMs);
    if (latency > 0) await sleep(latency);
    const b = bias(call.model, call.agentType);
    const values = new Float64Array(call.rows.length);
    for (let i = 0; i < call.rows.length; i++) values[i] = predictRow(b, call.rows[i]);
    return {values};
  }

  async close(): Promise<void> {}
}

export async function createBackend(options: BackendOptions): Promise<Backend> {
  if (options.kind === 'simulated') return new SimulatedBackend(options);
  const {HttpBackend} = await import('./http-backend.ts');
  return new HttpBackend(options);
}
