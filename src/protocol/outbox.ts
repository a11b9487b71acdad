// Once-per-turn coalescing, the same on both sides of the thread boundary: whatever one side
// queues for the other during an event-loop turn leaves as one message (per kind), at the end of
// the turn, never one postMessage per agent.
//
//   main thread:   Outbox + one DispatchBuffer per thread  -> DispatchMessage, WithdrawMessage
//   actor thread:  Outbox + one ResultsBuffer              -> ResultsMessage
//
// The buffers are reused, not reallocated, every turn: postMessage has copied what they held.

import type {BatchReport, DispatchMessage, PartRequest, PartResult, ResultsMessage, WithdrawMessage} from './messages.ts';

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

/** One part as the coordinator hands it to a transport. */
export interface OutgoingPart {
  readonly thread: number;
  readonly key: string;
  readonly partId: number;
  readonly requestId: string;
  readonly deadline: number;
  readonly vector: ArrayLike<number>;
}

/** What the main thread sends one actor thread in one turn. */
export class DispatchBuffer {
  readonly #keys: string[] = [];
  readonly #keyIndex = new Map<string, number>();
  readonly #parts: PartRequest[] = [];
  readonly #vectors: ArrayLike<number>[] = [];
  #floats = 0;
  readonly #withdrawals = new Map<string, number[]>();

  get isEmpty(): boolean {
    return this.#parts.length === 0 && this.#withdrawals.size === 0;
  }

  get hasParts(): boolean {
    return this.#parts.length > 0;
  }

  add(part: OutgoingPart): void {
    let keyIndex = this.#keyIndex.get(part.key);
    if (keyIndex === undefined) {
      keyIndex = this.#keys.push(part.key) - 1;
      this.#keyIndex.set(part.key, keyIndex);
    }
    const {partId, requestId, deadline, vector} = part;
    this.#parts.push({partId, requestId, keyIndex, offset: this.#floats, length: vector.length, deadline});
    this.#vectors.push(vector);
    this.#floats += vector.length;
  }

  withdraw(key: string, partId: number): void {
    const ids = this.#withdrawals.get(key);
    if (ids) ids.push(partId);
    else this.#withdrawals.set(key, [partId]);
  }

  /** The dispatch message (its vectors packed into one transferable Float64Array), if any. */
  dispatch(): (DispatchMessage & {readonly data: Float64Array<ArrayBuffer>}) | undefined {
    if (this.#parts.length === 0) return undefined;
    const data = new Float64Array(this.#floats);
    for (let i = 0; i < this.#parts.length; i++) data.set(this.#vectors[i], this.#parts[i].offset);
    return {kind: 'dispatch', keys: this.#keys, parts: this.#parts, data};
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

/** What an actor thread sends the main thread in one turn. */
export class ResultsBuffer {
  #results: PartResult[] = [];
  #batches: BatchReport[] = [];

  result(result: PartResult): void {
    this.#results.push(result);
  }

  batch(report: BatchReport): void {
    this.#batches.push(report);
  }

  /** The turn's message, if there is anything to send; the buffer starts empty again. */
  take(): ResultsMessage | undefined {
    if (this.#results.length === 0 && this.#batches.length === 0) return undefined;
    const message: ResultsMessage = {kind: 'results', results: this.#results, batches: this.#batches};
    this.#results = [];
    this.#batches = [];
    return message;
  }
}
