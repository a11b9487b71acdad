// The coordinator (main thread): admits a request whole or not at all, splits it into parts
// tagged (requestId, partId), routes each part to the thread that hosts its key's actor, and
// reassembles the tagged results. A request is answered once every agent has an outcome, or at
// its deadline, whichever comes first; results that arrive after that are dropped quietly.
//
// Bookkeeping, all on this thread:
//   #parts  partId -> request (agent index = partId - firstPartId); lives until its thread answers
//   #keys   key -> placement (slot), live parts, backend latency estimate
// A part's entry outlives its request only while its thread still holds it (a withdrawal or a
// late result ends it), so nothing here grows with time, only with work in flight.

import type {Logger} from 'pino';
import type {BatchingOptions} from '../config.ts';
import {Errors} from '../errors.ts';
import type {AgentError, AgentErrorCode} from '../errors.ts';
import {keyString} from '../protocol/mailbox-key.ts';
import type {BatchInfo, ResultsMessage} from '../protocol/messages.ts';
import type {CoordinatorObserver} from '../metrics.ts';
import type {ActorPool} from './pool.ts';

export interface AgentInput {
  readonly id: string;
  readonly vector: ArrayLike<number>;
  readonly model: string;
  readonly agentType: string;
}

export type AgentOutcome =
  | {readonly prediction: number; readonly batch: BatchInfo}
  | {readonly error: AgentError; readonly batch?: BatchInfo};

export interface CoordinatorOptions {
  readonly batching: BatchingOptions;
  readonly maxMailboxes: number;
  readonly maxPendingPerMailbox: number;
  readonly maxPendingTotal: number;
  /** Backend latency assumed for a key before one of its calls has been measured. */
  readonly expectedLatencyMs: number;
  /** A key with nothing in flight for this long gives up its placement. */
  readonly keyIdleMs?: number;
  readonly observer?: CoordinatorObserver;
}

const quiet: CoordinatorObserver = {outcome() {}, refused() {}, withdrawn() {}, batch() {}, keyRetired() {}};

/** An admitted request: its outcomes to come, and a way to give up on it (client gone). */
export interface Ticket {
  readonly outcomes: Promise<AgentOutcome[]>;
  /** Withdraws the agents still waiting in a mailbox; the outcomes resolve at once. */
  cancel(): void;
}

interface KeyState {
  readonly key: string;
  readonly slot: number;
  /** Parts sent to the slot and not yet answered for by it. */
  live: number;
  idleSince: number;
  /** Smoothed backend latency of this key's calls. */
  latencyMs: number;
}

interface OpenRequest {
  readonly id: string;
  /** Agent i travels as part firstPartId + i. */
  readonly firstPartId: number;
  readonly keys: KeyState[];
  readonly outcomes: (AgentOutcome | undefined)[];
  open: number;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(outcomes: AgentOutcome[]): void;
}

export interface CoordinatorStats {
  readonly openRequests: number;
  readonly liveParts: number;
  readonly keys: number;
  readonly withdrawn: number;
  readonly refused: number;
}

const latencyWeight = 0.2;

export class Coordinator {
  readonly #pool: ActorPool;
  readonly #options: CoordinatorOptions;
  readonly #log: Logger;
  readonly #observer: CoordinatorObserver;
  /** partId -> its request, while the part's thread still holds it. */
  readonly #parts = new Map<number, OpenRequest>();
  /** Scratch for admission (one thread, one call at a time): rows per key of the request. */
  readonly #counts = new Map<string, number>();
  readonly #keys = new Map<string, KeyState>();
  readonly #slotKeys: number[];
  readonly #open = new Set<OpenRequest>();
  readonly #sweeper: NodeJS.Timeout;
  #partSeq = 0;
  #liveTotal = 0;
  #withdrawn = 0;
  #refused = 0;

  constructor(pool: ActorPool, options: CoordinatorOptions, log: Logger) {
    this.#pool = pool;
    this.#options = options;
    this.#log = log;
    this.#observer = options.observer ?? quiet;
    this.#slotKeys = new Array<number>(pool.size).fill(0);
    const idleMs = options.keyIdleMs ?? 60_000;
    this.#sweeper = setInterval(() => this.#retireIdleKeys(Date.now() - idleMs), Math.min(idleMs, 10_000));
    this.#sweeper.unref();
  }

  get stats(): CoordinatorStats {
    return {
      openRequests: this.#open.size,
      liveParts: this.#parts.size,
      keys: this.#keys.size,
      withdrawn: this.#withdrawn,
      refused: this.#refused,
    };
  }

  /** The slot hosting a key's actor, if the key is alive. */
  slotOf(agentType: string, model: string): number | undefined {
    return this.#keys.get(keyString(agentType, model))?.slot;
  }

  /**
   * Admits and dispatches every agent; the ticket's outcomes come one per agent, in order, by
   * `deadline` (epoch ms) at the latest. Throws (synchronously, nothing dispatched) an
   * `overloaded` HttpError when admission fails.
   */
  submit(requestId: string, agents: readonly AgentInput[], deadline: number): Ticket {
    const keyNames = agents.map((a) => keyString(a.agentType, a.model));
    this.#admit(keyNames);

    const {promise, resolve} = Promise.withResolvers<AgentOutcome[]>();
    const request: OpenRequest = {
      id: requestId,
      firstPartId: this.#partSeq + 1,
      keys: new Array<KeyState>(agents.length),
      outcomes: new Array<AgentOutcome | undefined>(agents.length),
      open: agents.length,
      done: false,
      timer: undefined,
      resolve,
    };
    this.#open.add(request);
    for (let i = 0; i < agents.length; i++) {
      const key = this.#place(keyNames[i]);
      const partId = ++this.#partSeq;
      request.keys[i] = key;
      this.#parts.set(partId, request);
      key.live++;
      this.#liveTotal++;
      this.#pool.send(key.slot, key.key, partId, requestId, deadline, agents[i].vector);
    }
    const wait = Math.max(0, deadline - Date.now());
    request.timer = setTimeout(
      () => this.#finish(request, 'deadline_exceeded', `no backend answer within ${wait} ms`),
      wait,
    );
    return {
      outcomes: promise,
      cancel: () => this.#finish(request, 'shutting_down', 'client went away', 'client_gone'),
    };
  }

  /** Tagged results from a thread: route each to its request; answer requests that are complete. */
  onResults(message: ResultsMessage): void {
    for (const report of message.batches) {
      const key = this.#keys.get(report.key);
      if (key) key.latencyMs += latencyWeight * (report.backendMs - key.latencyMs);
      this.#observer.batch(report);
    }
    for (const result of message.results) {
      const request = this.#parts.get(result.partId);
      if (!request) continue;
      this.#parts.delete(result.partId);
      const index = result.partId - request.firstPartId;
      this.#release(request.keys[index]);
      if (result.outcome === 'withdrawn') {
        this.#withdrawn++;
        this.#observer.withdrawn();
      }
      if (request.done) continue;
      if (result.outcome === 'prediction') {
        request.outcomes[index] = {prediction: result.prediction, batch: result.batch};
      } else if (result.outcome === 'error') {
        const error = {code: result.code, message: result.message};
        request.outcomes[index] = result.batch ? {error, batch: result.batch} : {error};
      } else {
        // The thread expired the part before our own timer fired (clocks of a busy machine).
        request.outcomes[index] = {error: {code: 'deadline_exceeded', message: 'deadline passed before dispatch'}};
      }
      if (--request.open === 0) this.#finish(request);
    }
  }

  /** A thread died: every part it held fails at once with `worker_failed`. */
  onSlotFailed(slot: number): void {
    let failed = 0;
    for (const [partId, request] of this.#parts) {
      const index = partId - request.firstPartId;
      const key = request.keys[index];
      if (key.slot !== slot) continue;
      this.#parts.delete(partId);
      this.#release(key);
      if (request.done) continue;
      failed++;
      request.outcomes[index] = {error: {code: 'worker_failed', message: 'the actor thread holding this agent failed'}};
      if (--request.open === 0) this.#finish(request);
    }
    this.#log.warn({thread: slot, failed}, 'parts of a failed thread answered with worker_failed');
  }

  /** Ends every open request now: agents without an outcome get `code` (shutdown). */
  abortAll(code: AgentErrorCode, message: string): void {
    for (const request of [...this.#open]) this.#finish(request, code, message);
  }

  /** Resolves when no request is open (or at once). */
  async idle(): Promise<void> {
    while (this.#open.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #admit(keyNames: readonly string[]): void {
    const counts = this.#counts;
    counts.clear();
    for (const name of keyNames) counts.set(name, (counts.get(name) ?? 0) + 1);
    const {maxPendingTotal, maxPendingPerMailbox, maxMailboxes} = this.#options;
    const involved: KeyState[] = [];
    let newKeys = 0;
    let reason: string | undefined;
    for (const [name, n] of counts) {
      const key = this.#keys.get(name);
      if (!key) newKeys++;
      else {
        involved.push(key);
        if (key.live + n > maxPendingPerMailbox) reason ??= 'mailbox pending limit reached';
      }
    }
    if (this.#liveTotal + keyNames.length > maxPendingTotal) reason ??= 'pending agents limit reached';
    if (!reason && this.#keys.size + newKeys > maxMailboxes) {
      this.#retireIdleKeys(Infinity, this.#keys.size + newKeys - maxMailboxes);
      if (this.#keys.size + newKeys > maxMailboxes) reason = 'too many mailboxes alive';
    }
    if (!reason) return;
    this.#refused++;
    this.#observer.refused(reason);
    const pool = reason === 'mailbox pending limit reached' ? involved : [...this.#keys.values()];
    throw Errors.overloaded(reason, this.#retryAfterSeconds(pool));
  }

  /** Seconds until the backlog of these keys should have drained, from their measured latency. */
  #retryAfterSeconds(keys: readonly KeyState[]): number {
    const {maxBatchSize, maxConcurrentBatches} = this.#options.batching;
    let worstMs = 0;
    for (const key of keys) {
      const batches = Math.ceil(key.live / maxBatchSize);
      const rounds = maxConcurrentBatches === 0 ? Math.min(1, batches) : Math.ceil(batches / maxConcurrentBatches);
      worstMs = Math.max(worstMs, rounds * key.latencyMs);
    }
    return Math.max(1, Math.ceil(worstMs / 1000));
  }

  /** The key's state, placing a new key on the thread hosting the fewest keys. */
  #place(name: string): KeyState {
    let key = this.#keys.get(name);
    if (key) return key;
    let slot = 0;
    for (let i = 1; i < this.#slotKeys.length; i++) if (this.#slotKeys[i] < this.#slotKeys[slot]) slot = i;
    this.#slotKeys[slot]++;
    key = {key: name, slot, live: 0, idleSince: 0, latencyMs: this.#options.expectedLatencyMs};
    this.#keys.set(name, key);
    return key;
  }

  #release(key: KeyState): void {
    key.live--;
    this.#liveTotal--;
    if (key.live === 0) key.idleSince = Date.now();
  }

  /** Forgets keys idle since before `before` (at most `limit` of them, oldest first). */
  #retireIdleKeys(before: number, limit = Infinity): void {
    const idle = [...this.#keys.values()].filter((k) => k.live === 0 && k.idleSince < before);
    idle.sort((a, b) => a.idleSince - b.idleSince);
    for (const key of idle.slice(0, limit)) {
      this.#keys.delete(key.key);
      this.#slotKeys[key.slot]--;
      this.#observer.keyRetired(key.key);
    }
  }

  /**
   * Answers the request. Agents still without an outcome get `code`; those still waiting in a
   * mailbox are withdrawn (their entries go when their thread confirms or answers).
   */
  #finish(request: OpenRequest, code?: AgentErrorCode, message = '', countAs?: 'client_gone'): void {
    if (request.done) return;
    request.done = true;
    clearTimeout(request.timer);
    this.#open.delete(request);
    for (let i = 0; i < request.outcomes.length; i++) {
      const outcome = request.outcomes[i];
      if (outcome !== undefined) {
        this.#observer.outcome('prediction' in outcome ? 'prediction' : outcome.error.code);
        continue;
      }
      if (!code) continue;
      request.outcomes[i] = {error: {code, message}};
      this.#observer.outcome(countAs ?? code);
      const key = request.keys[i];
      const partId = request.firstPartId + i;
      if (this.#parts.has(partId)) this.#pool.withdraw(key.slot, key.key, partId);
    }
    request.open = 0;
    request.resolve(request.outcomes as AgentOutcome[]);
  }
}
