// Once-per-turn coalescing, the same on both sides of the thread boundary: whatever one side
// queues for the other during an event-loop turn leaves as one message (per kind), at the end of
// the turn, never one postMessage per agent.
//
//   main thread:   Outbox + one DispatchBuffer per thread  -> DispatchMessage, WithdrawMessage
//   actor thread:  Outbox + one ResultsBuffer              -> ResultsMessage
//
// Both carry their parts and results as columns of numbers (src/protocol/messages.ts says why).
// The dispatch buffers are reused every turn: postMessage has copied what they held.

import type {AgentError, AgentErrorCode} from '../errors.ts';
import {Outcome} from './messages.ts';
import type {
  BatchInfo,
  BatchReport,
  DispatchMessage,
  ResultsMessage,
  ResultVisitor,
  WithdrawMessage,
} from './messages.ts';

/** Runs `flush` once at the end of any turn in which `schedule()` was called. */
export class Outbox {
  readonly #flush: () => void;
  #scheduled = false;

  constructor(flush: () => void) {
    this.#flush = flush;
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  /** Flushes now (shutdown); a flush already scheduled then finds nothing to send. */
  flushNow(): void {
    this.#run();
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.#flush();
  };
}

/** What the main thread sends one actor thread in one turn. */
export class DispatchBuffer {
  readonly #keys: string[] = [];
  readonly #keyIndex = new Map<string, number>();
  /** partStride numbers per part (PartField). */
  readonly #parts: number[] = [];
  readonly #vectors: ArrayLike<number>[] = [];
  #floats = 0;
  readonly #withdrawals = new Map<string, number[]>();

  get isEmpty(): boolean {
    return this.#parts.length === 0 && this.#withdrawals.size === 0;
  }

  get hasParts(): boolean {
    return this.#parts.length > 0;
  }

  add(key: string, partId: number, deadline: number, vector: ArrayLike<number>, client: number): void {
    let keyIndex = this.#keyIndex.get(key);
    if (keyIndex === undefined) {
      keyIndex = this.#keys.push(key) - 1;
      this.#keyIndex.set(key, keyIndex);
    }
    // In PartField order.
    this.#parts.push(partId, keyIndex, vector.length, deadline, client);
    this.#vectors.push(vector);
    this.#floats += vector.length;
  }

  withdraw(key: string, partId: number): void {
    const ids = this.#withdrawals.get(key);
    if (ids) ids.push(partId);
    else this.#withdrawals.set(key, [partId]);
  }

  /** The dispatch message (its parts and vectors in two transferable Float64Arrays), if any. */
  dispatch():
    | (DispatchMessage & {readonly parts: Float64Array<ArrayBuffer>; readonly data: Float64Array<ArrayBuffer>})
    | undefined {
    if (this.#parts.length === 0) return undefined;
    const data = new Float64Array(this.#floats);
    let offset = 0;
    for (const vector of this.#vectors) {
      data.set(vector, offset);
      offset += vector.length;
    }
    return {kind: 'dispatch', keys: [...this.#keys], parts: new Float64Array(this.#parts), data};
  }

  /** The withdraw message, if any. Sent after the dispatch: a part withdrawn in the turn it was sent is in its mailbox by then. */
  withdrawal(): WithdrawMessage | undefined {
    if (this.#withdrawals.size === 0) return undefined;
    return {kind: 'withdraw', withdrawals: [...this.#withdrawals].map(([key, partIds]) => ({key, partIds}))};
  }

  clear(): void {
    this.#keys.length = 0;
    this.#keyIndex.clear();
    this.#parts.length = 0;
    this.#vectors.length = 0;
    this.#floats = 0;
    this.#withdrawals.clear();
  }
}

/** Where an actor puts what became of its parts and its backend calls. */
export interface ResultSink extends ResultVisitor {
  report(report: BatchReport): void;
}

/** What an actor thread sends the main thread in one turn (and an actor host, a gateway). */
export class ResultsBuffer implements ResultSink {
  /** resultStride numbers per result (ResultField). */
  #results: number[] = [];
  #errors: AgentError[] = [];
  #batches: BatchInfo[] = [];
  /** Batch -> its index in #batches: a call's rows share one entry. */
  readonly #batchIndex = new Map<BatchInfo, number>();
  #reports: BatchReport[] = [];

  prediction(partId: number, value: number, batch: BatchInfo): void {
    this.#results.push(partId, Outcome.prediction, value, this.#batchOf(batch));
  }

  error(partId: number, code: AgentErrorCode, message: string, batch?: BatchInfo): void {
    // The rows of a failed call share one error entry.
    const last = this.#errors.at(-1);
    const index =
      last?.code === code && last.message === message
        ? this.#errors.length - 1
        : this.#errors.push({code, message}) - 1;
    this.#results.push(partId, Outcome.error, index, batch ? this.#batchOf(batch) : -1);
  }

  withdrawn(partId: number): void {
    this.#results.push(partId, Outcome.withdrawn, 0, -1);
  }

  report(report: BatchReport): void {
    this.#reports.push(report);
  }

  get isEmpty(): boolean {
    return this.#results.length === 0 && this.#reports.length === 0;
  }

  /** The turn's message, if there is anything to send (its results column may be transferred); the buffer starts empty again. */
  take(): (ResultsMessage & {readonly results: Float64Array<ArrayBuffer>}) | undefined {
    if (this.isEmpty) return undefined;
    const message = {
      kind: 'results' as const,
      results: new Float64Array(this.#results),
      errors: this.#errors,
      batches: this.#batches,
      reports: this.#reports,
    };
    this.#results = [];
    this.#errors = [];
    this.#batches = [];
    this.#batchIndex.clear();
    this.#reports = [];
    return message;
  }

  #batchOf(batch: BatchInfo): number {
    let index = this.#batchIndex.get(batch);
    if (index === undefined) {
      index = this.#batches.push(batch) - 1;
      this.#batchIndex.set(batch, index);
    }
    return index;
  }
}
