// Every message that crosses between the coordinator (main thread) and an actor thread (worker
// thread). Both sides import these types; nothing else crosses a port. Messages are coalesced
// (src/protocol/outbox.ts): one DispatchMessage per thread per event-loop turn, one ResultsMessage
// per thread per turn.
//
//   main thread                                          worker thread (actor thread)
//   pool ── comlink: ActorThreadApi.connect(port), stats() ──▶ ActorThread
//        ══ data port: ThreadMessage (Dispatch | Withdraw | Drain | Registry | Stop) ══▶ actors (one per key)
//        ◀═ data port: ResultsMessage (tagged per part) ══════════
//
// The data plane is one-way messages on a MessageChannel handed over through comlink: a comlink
// call is a request and a reply, which would double the messages (and thread wake-ups) of the
// hot path for replies nobody waits for.

import type {AgentError, AgentErrorCode} from '../errors.ts';
import type {Registry} from '../registry.ts';
import type {MessagePort, Transferable} from 'node:worker_threads';

/**
 * A dispatch's parts travel as columns, not as an object each (a structured clone of thousands of
 * small objects costs several times that of two typed arrays): part i is
 * `parts[i * partStride + PartField.x]`. Its vector is the next `length` numbers of `data`, in
 * part order.
 */
export const partStride = 5;
export const PartField = {
  partId: 0,
  /** Index into DispatchMessage.keys. */
  keyIndex: 1,
  length: 2,
  /** Epoch ms after which the part's request no longer waits for it. */
  deadline: 3,
  /** The client's number (src/coordinator/clients.ts, clientNumber): a mailbox serves its clients in turn. */
  client: 4,
} as const;

export interface DispatchMessage {
  readonly kind: 'dispatch';
  /** Mailbox keys (string form) used by this message's parts. */
  readonly keys: readonly string[];
  /** `partStride` numbers per part (PartField); its buffer is transferred. */
  readonly parts: Float64Array;
  /** Every part's vector, back to back; its buffer is transferred. */
  readonly data: Float64Array;
}

/** Each part of a dispatch, in order; its vector is a view into `data`. */
export function forEachPart(
  {parts, data}: DispatchMessage,
  visit: (partId: number, keyIndex: number, deadline: number, vector: Float64Array, client: number) => void,
): void {
  let offset = 0;
  for (let at = 0; at < parts.length; at += partStride) {
    const length = parts[at + PartField.length];
    visit(
      parts[at + PartField.partId],
      parts[at + PartField.keyIndex],
      parts[at + PartField.deadline],
      data.subarray(offset, offset + length),
      parts[at + PartField.client],
    );
    offset += length;
  }
}

/** Take these parts out of their mailboxes if not yet sent; drop their results otherwise. */
export interface WithdrawMessage {
  readonly kind: 'withdraw';
  readonly withdrawals: readonly {readonly key: string; readonly partIds: readonly number[]}[];
}

/** Shutdown: cut every pending batch now, without waiting for MAX_WAIT_MS. */
export interface DrainMessage {
  readonly kind: 'drain';
}

/** The model registry changed (SIGHUP): new batches use the new settings; nothing in flight is dropped. */
export interface RegistryMessage {
  readonly kind: 'registry';
  readonly registry: Registry;
}

/**
 * The pool is closing: the thread lets its backend calls under way finish, closes its backends
 * (an ONNX session is released only after its last run) and exits by itself, between two turns.
 * A thread is never terminated from outside while it may be inside a native call (ONNX Runtime's
 * run): that aborts the whole process (src/threads/pooled-thread.ts, stopInstance).
 */
export interface StopMessage {
  readonly kind: 'stop';
}

export type ThreadMessage = DispatchMessage | WithdrawMessage | DrainMessage | RegistryMessage | StopMessage;

export interface BatchInfo {
  readonly id: string;
  readonly size: number;
}

/**
 * Results travel as columns too: result i is `results[i * resultStride + ResultField.x]`. Its
 * `value` is the prediction, or for an error its index in `errors`; `batch` indexes `batches`
 * (-1: the agent never reached a backend call).
 */
export const resultStride = 4;
export const ResultField = {partId: 0, outcome: 1, value: 2, batch: 3} as const;
export const Outcome = {
  prediction: 0,
  error: 1,
  /** The part left its mailbox unsent (withdrawn or expired); nobody waits for it any more. */
  withdrawn: 2,
} as const;

/** What became of one part, as a results message's reader (or writer: ResultSink) is told it. */
export interface ResultVisitor {
  prediction(partId: number, value: number, batch: BatchInfo): void;
  error(partId: number, code: AgentErrorCode, message: string, batch?: BatchInfo): void;
  withdrawn(partId: number): void;
}

/** Each result of a message, in order. */
export function forEachResult({results, errors, batches}: ResultsMessage, visitor: ResultVisitor): void {
  for (let at = 0; at < results.length; at += resultStride) {
    const partId = results[at + ResultField.partId];
    const outcome = results[at + ResultField.outcome];
    const batch = batches[results[at + ResultField.batch]];
    if (outcome === Outcome.prediction) visitor.prediction(partId, results[at + ResultField.value], batch);
    else if (outcome === Outcome.error) {
      const {code, message} = errors[results[at + ResultField.value]];
      visitor.error(partId, code, message, batch);
    } else visitor.withdrawn(partId);
  }
}

/** How one backend call of a key went: `partial` when the backend refused some of its rows. */
export type BatchResult = 'ok' | 'partial' | AgentErrorCode;

/** One backend call of a key, for the latency estimate and the metrics. */
export interface BatchReport {
  readonly key: string;
  readonly size: number;
  readonly backendMs: number;
  readonly result: BatchResult;
  /** Per row: ms from arrival in the mailbox to dispatch. */
  readonly waitsMs: readonly number[];
  /** The key's batch window after this call (fixed, or adaptive with MAX_WAIT_MS=auto). */
  readonly windowMs: number;
}

export interface ResultsMessage {
  readonly kind: 'results';
  /** `resultStride` numbers per result (ResultField). */
  readonly results: Float64Array;
  readonly errors: readonly AgentError[];
  /** The backend calls that carried these results (each once, however many rows it had). */
  readonly batches: readonly BatchInfo[];
  /** One per backend call that ended in the sender's turn, for the latency estimate and metrics. */
  readonly reports: readonly BatchReport[];
}

/** What a worker thread is started with (workerData): config comes from main, never from env. */
export interface ThreadOptions {
  /** The thread's index in the pool (its placement target). */
  readonly thread: number;
  /** Unique per start of a thread (a restarted thread gets a new one): batch ids stay unique. */
  readonly instance: number;
  /** Put before the instance in batch ids: an actor host's cluster id, so ids are unique cluster-wide. */
  readonly batchPrefix?: string;
  /** Each model's backend and batching (the defaults for any model it does not list). */
  readonly registry: Registry;
  readonly logLevel: string;
}

/** The actor thread's API, exposed with comlink on the worker's parentPort. */
export interface ActorThreadApi {
  /** Hands the thread its data port: ThreadMessages arrive on it, ResultsMessages leave on it. */
  connect(port: MessagePort): void;
  /** Mailboxes alive, rows pending and batches in flight on this thread. */
  stats(): ThreadStats;
}

/** The data port as each side sees it: what it may send, what it receives. */
export interface DataPort<Send, Receive> {
  postMessage(message: Send, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (message: Receive) => void): unknown;
}

export interface KeyStats {
  readonly key: string;
  /** Rows waiting in the mailbox. */
  readonly pending: number;
  /** Backend calls in flight. */
  readonly inflight: number;
}

export interface ThreadStats {
  readonly actors: number;
  readonly pending: number;
  readonly inflight: number;
  readonly keys: readonly KeyStats[];
  /** The registry's onnx models (their backend ids) this thread has opened: start and SIGHUP wait for them. */
  readonly warmed?: readonly string[];
}
