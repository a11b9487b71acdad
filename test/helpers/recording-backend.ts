// A backend that records every call and answers only when the test releases it.

import type {Backend, BackendCall, BackendReply} from '../../workers/backend/backend.ts';
import {predictMatrix} from '../../src/simulator/formula.ts';

export interface RecordedCall {
  readonly call: BackendCall;
  resolve(reply: BackendReply): void;
  reject(error: unknown): void;
  /** Answers with the exact formula. */
  answer(): void;
}

export class RecordingBackend implements Backend {
  readonly calls: RecordedCall[] = [];

  predict(call: BackendCall): Promise<BackendReply> {
    const {promise, resolve, reject} = Promise.withResolvers<BackendReply>();
    this.calls.push({
      call,
      resolve,
      reject,
      answer: () => resolve({values: predictMatrix(call.model, call.agentType, call.rows)}),
    });
    return promise;
  }

  /** Row counts of every call so far. */
  get sizes(): number[] {
    return this.calls.map((c) => c.call.rows.length);
  }

  async close(): Promise<void> {}
}
