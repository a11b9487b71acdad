// One actor owns one (agent_type, model) mailbox. It applies the batch policy, calls the backend
// once per batch, checks the reply where it arrives, and emits one tagged result per part.
// Every part it receives leaves it exactly once: a prediction, an error, or `withdrawn`.

import type {Logger} from 'pino';
import type {BatchingOptions} from '../src/config.ts';
import type {AgentErrorCode} from '../src/errors.ts';
import type {BatchInfo, BatchResult} from '../src/protocol/messages.ts';
import type {ResultSink} from '../src/protocol/outbox.ts';
import type {MailboxKey} from '../src/protocol/mailbox-key.ts';
import {BatchQueue} from './batch-policy.ts';
import type {Batch, QueueOptions} from './batch-policy.ts';
import {BackendError} from './backend/backend.ts';
import type {Backend, BackendReply} from './backend/backend.ts';
import {replyProblem, valueProblem} from './reply-check.ts';
import type {Clock} from './clock.ts';
import {defaultWindowBounds} from './wait-window.ts';
import type {WaitWindow} from './wait-window.ts';
import type {CostModel} from './cost-model.ts';
import {canMeetDeadline} from './slo-cut.ts';

export interface Part {
  readonly partId: number;
  readonly deadline: number;
  /** Clock time of arrival in the mailbox. */
  readonly arrivedAt: number;
  readonly row: Float64Array;
  /** The client's number: the mailbox serves its clients in turn (batch-policy.ts). */
  readonly client: number;
}

/** What an actor batches with and calls: from its model's registry entry (or the defaults). */
export interface ActorSettings {
  readonly backend: Backend;
  readonly batching: BatchingOptions;
  /** The key's adaptive window, when its batching says MAX_WAIT_MS=auto; it outlives the actor. */
  readonly window: WaitWindow | undefined;
  /** The key's fitted backend cost (DESIGN §11); it outlives the actor too. */
  readonly cost: CostModel;
}

export interface ActorContext {
  readonly clock: Clock;
  readonly log: Logger;
  nextBatchId(): string;
  /** Every part's outcome and every call's report go here (coalesced per turn by its thread). */
  readonly results: ResultSink;
  /** Called when the actor holds nothing and has no call in flight. */
  idle(actor: Actor): void;
}

export class Actor {
  readonly key: string;
  /** The key as its pair (agentType, model): what the backend is called with. */
  readonly #pair: MailboxKey;
  readonly #ctx: ActorContext;
  readonly #log: Logger;
  readonly #queue: BatchQueue<Part>;
  #settings: ActorSettings;
  #inflight = 0;
  #draining = false;
  #timer: unknown;
  #timerAt = Infinity;

  constructor(key: string, pair: MailboxKey, ctx: ActorContext, settings: ActorSettings) {
    this.key = key;
    this.#pair = pair;
    this.#ctx = ctx;
    this.#settings = settings;
    this.#queue = new BatchQueue(queueOptions(settings));
    this.#log = ctx.log.child({agentType: pair.agentType, model: pair.model});
  }

  get pending(): number {
    return this.#queue.size;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get isIdle(): boolean {
    return this.#queue.size === 0 && this.#inflight === 0;
  }

  dispatch(parts: readonly Part[]): void {
    const now = this.#ctx.clock.now();
    for (const part of parts) this.#queue.push(part, part.row.length, now, part.client);
    this.#pump();
  }

  /** Takes the given parts out of the mailbox if they are still waiting. */
  withdraw(partIds: ReadonlySet<number>): number {
    const removed = this.#queue.remove((part) => partIds.has(part.partId));
    for (const part of removed) this.#ctx.results.withdrawn(part.partId);
    if (removed.length > 0) this.#pump();
    return removed.length;
  }

  /** New settings (registry reload): they apply to the next batches; calls in flight finish as they are. */
  reconfigure(settings: ActorSettings): void {
    this.#settings = settings;
    this.#queue.configure(queueOptions(settings));
    this.#pump();
  }

  /** Shutdown: from now on every waiting row is cut at once (the concurrency limit still holds). */
  drain(): void {
    this.#draining = true;
    this.#pump();
  }

  #pump(): void {
    const now = this.#ctx.clock.now();
    for (const batch of this.#queue.cut(now, this.#inflight, this.#draining)) this.#send(batch, now);
    this.#setTimer(this.#queue.nextDueAt(this.#inflight));
    if (this.isIdle) this.#ctx.idle(this);
  }

  #setTimer(at: number | undefined): void {
    if (at === this.#timerAt) return;
    if (this.#timer !== undefined) this.#ctx.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at ?? Infinity;
    if (at === undefined) return;
    const delay = Math.max(0, at - this.#ctx.clock.now());
    this.#timer = this.#ctx.clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pump();
    }, delay);
  }

  #send(batch: Batch<Part>, now: number): void {
    // A part whose request has already given up on it is not worth a backend row.
    const parts: Part[] = [];
    for (const part of batch.items) {
      if (part.deadline > now) parts.push(part);
      else this.#ctx.results.withdrawn(part.partId);
    }
    // With an SLO, a row the predicted call cannot answer before its deadline is told so now, before compute is spent on it.
    if (this.#settings.batching.latencySloMs !== undefined) this.#dropLate(parts, now);
    if (parts.length === 0) return;
    const info: BatchInfo = {id: this.#ctx.nextBatchId(), size: parts.length};
    let deadline = Infinity;
    for (const part of parts) deadline = Math.min(deadline, part.deadline);
    const waitsMs = parts.map((p) => now - p.arrivedAt);
    this.#inflight++;
    const started = this.#elapsed();
    const settings = this.#settings;
    settings.backend
      .predict({...this.#pair, rows: parts.map((p) => p.row), deadline, batchId: info.id})
      .then(
        (reply) => this.#settle(parts, info, reply),
        (error: unknown) => {
          const failure =
            error instanceof BackendError ? error : new BackendError('backend_error', 'backend call failed');
          this.#log.warn({batchId: info.id, size: info.size, err: error}, 'backend call failed');
          for (const part of parts) this.#fail(part, failure.code, failure.message, info);
          return failure.code;
        },
      )
      .catch((error: unknown): BatchResult => {
        // A bug of ours, not the backend's: still answer every part (repeats are ignored upstream).
        this.#log.error({batchId: info.id, err: error}, 'settling a batch failed');
        for (const part of parts) this.#fail(part, 'backend_error', 'internal error settling the batch', info);
        return 'backend_error';
      })
      .then((result) => {
        const backendMs = this.#elapsed() - started;
        // The window and the cost fit follow calls that reached the backend and came back with an answer.
        if (result === 'ok' || result === 'partial') {
          settings.window?.observe(backendMs);
          settings.cost.observe(info.size, backendMs);
          if (settings === this.#settings) this.#queue.configure(queueOptions(settings));
        }
        const windowMs = queueOptions(this.#settings).maxWaitMs;
        this.#log.info(
          {batchId: info.id, size: info.size, length: batch.vectorLength, backendMs, windowMs, result},
          'batch done',
        );
        this.#ctx.results.report({key: this.key, size: info.size, backendMs, result, waitsMs, windowMs});
        this.#inflight--;
        this.#pump();
      });
  }

  #elapsed(): number {
    return this.#ctx.clock.elapsed?.() ?? this.#ctx.clock.now();
  }

  #dropLate(parts: Part[], now: number): void {
    const predicted = this.#settings.cost.predict(parts.length);
    let kept = 0;
    for (const part of parts) {
      if (canMeetDeadline(now, part.deadline, predicted)) parts[kept++] = part;
      else
        this.#fail(
          part,
          'deadline_exceeded',
          `cannot be answered within its deadline (the batch is predicted to take ${Math.round(predicted ?? 0)} ms)`,
        );
    }
    parts.length = kept;
  }

  /** The reply is checked here, where it arrives (workers/reply-check.ts): per row where it can be. */
  #settle(parts: readonly Part[], info: BatchInfo, reply: BackendReply): BatchResult {
    const problem = replyProblem(reply, parts.length);
    if (problem) {
      for (const part of parts) this.#fail(part, 'backend_bad_response', problem, info);
      return 'backend_bad_response';
    }
    let predicted = 0;
    let firstFailure: AgentErrorCode | undefined;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const refused = reply.rejected?.get(i);
      const value = reply.values[i];
      const bad = refused === undefined ? valueProblem(value) : undefined;
      if (refused !== undefined || bad !== undefined) {
        const code = refused !== undefined ? 'backend_rejected' : 'backend_bad_response';
        firstFailure ??= code;
        this.#fail(part, code, refused ?? (bad as string), info);
        continue;
      }
      predicted++;
      this.#ctx.results.prediction(part.partId, value as number, info);
    }
    // `partial`: some rows got predictions, some failed; a batch whose rows all failed counts as its code.
    if (firstFailure === undefined) return 'ok';
    return predicted > 0 ? 'partial' : firstFailure;
  }

  #fail(part: Part, code: AgentErrorCode, message: string, batch?: BatchInfo): void {
    this.#ctx.results.error(part.partId, code, message, batch);
  }
}

/** The policy's settings for now: the fixed window, or the key's adaptive one. */
function queueOptions({batching, window, cost}: ActorSettings): QueueOptions {
  const maxWaitMs = batching.maxWaitMs === 'auto' ? (window?.ms ?? defaultWindowBounds.initialMs) : batching.maxWaitMs;
  const slo = batching.latencySloMs === undefined ? undefined : {sloMs: batching.latencySloMs, cost: cost.fit};
  return {maxBatchSize: batching.maxBatchSize, maxWaitMs, maxConcurrentBatches: batching.maxConcurrentBatches, slo};
}
