// The coordinator (main thread): the request lifecycle. It admits a request whole or not at all
// (admission.ts), splits it into parts tagged with a part id, hands each part to the transport for
// the thread hosting its key (keys.ts), and reassembles the tagged results. A request is answered
// once every agent has an outcome, or at its deadline, whichever comes first; later results are
// dropped quietly. A part's entry outlives its request only while its thread still holds it (a
// withdrawal or a late result ends it): nothing here grows with time, only with work in flight.

import type {Logger} from 'pino';
import type {AgentErrorCode} from '../errors.ts';
import {keyString} from '../protocol/mailbox-key.ts';
import {forEachResult} from '../protocol/messages.ts';
import type {ResultsMessage, ResultVisitor} from '../protocol/messages.ts';
import {admit, claimUntil} from './admission.ts';
import type {AdmissionState} from './admission.ts';
import {ClaimTable} from './claims.ts';
import {ClientTable, clientGroup} from './clients.ts';
import {DeadlineQueue} from './deadlines.ts';
import {KeyTable} from './keys.ts';
import type {
  Admission,
  AgentOutcome,
  CoordinatorObserver,
  CoordinatorOptions,
  CoordinatorStats,
  Submission,
  Submitter,
} from './api.ts';
import {clientGone, expiredInThread, OpenRequest, OpenRequests, threadFailed} from './open-request.ts';
import type {Ending} from './open-request.ts';
import type {Transport} from './transport.ts';

const quiet: CoordinatorObserver = {outcome() {}, refused() {}, withdrawn() {}, batch() {}, keyRetired() {}};

export class Coordinator implements Submitter {
  readonly #transport: Transport;
  readonly #options: CoordinatorOptions;
  readonly #log: Logger;
  readonly #observer: CoordinatorObserver;
  readonly #keys: KeyTable;
  readonly #clients = new ClientTable();
  readonly #claims = new ClaimTable();
  readonly #admission: AdmissionState;
  /** partId -> its request (agent index = partId - firstPartId), while the part's thread still holds it. */
  readonly #parts = new Map<number, OpenRequest>();
  /** Scratch for admission (one thread, one call at a time): agents per key of the request. */
  readonly #rowsPerKey = new Map<string, number>();
  readonly #open = new OpenRequests();
  readonly #deadlines = new DeadlineQueue<OpenRequest>((request) =>
    this.#finish(request, {code: 'deadline_exceeded', message: `no backend answer within ${request.waitMs} ms`}),
  );
  readonly #cancel = (request: OpenRequest) => this.#finish(request, clientGone);
  #partSeq = 0;
  /** Date.now() of the results message being read, the thread it came from, and its results for parts sent elsewhere. */
  #now = 0;
  #from: number | undefined;
  #foreign = 0;
  #withdrawn = 0;
  #refused = 0;

  constructor(transport: Transport, options: CoordinatorOptions, log: Logger) {
    this.#transport = transport;
    this.#options = options;
    this.#log = log;
    this.#observer = options.observer ?? quiet;
    this.#keys = new KeyTable(transport.placement, options.expectedLatencyMs, (key) => this.#observer.keyRetired(key));
    this.#admission = {keys: this.#keys, clients: this.#clients, claims: this.#claims};
    this.#keys.retireWhenIdle(options.keyIdleMs);
  }

  get stats(): CoordinatorStats {
    return {
      openRequests: this.#open.size,
      liveParts: this.#parts.size,
      keys: this.#keys.size,
      withdrawn: this.#withdrawn,
      refused: this.#refused,
      claims: this.#claims.size,
    };
  }

  /** The thread hosting a key's actor, if the key is alive. */
  threadOf(agentType: string, model: string): number | undefined {
    return this.#keys.get(keyString(agentType, model))?.thread;
  }

  submit(submission: Submission): Admission {
    const {agents, deadline} = submission;
    const client = this.#clients.peek(clientGroup(submission.client));
    const keys = agents.map((a) => keyString(a.agentType, a.model));
    const rowsPerKey = this.#rowsPerKey;
    rowsPerKey.clear();
    for (const key of keys) rowsPerKey.set(key, (rowsPerKey.get(key) ?? 0) + 1);
    // A client asking again is judged without its own claim, in its place in line; admitted, it needs none.
    const place = this.#claims.drop(client.id);
    const refusal = admit(
      rowsPerKey,
      client,
      place ?? Infinity,
      this.#admission,
      this.#options,
      this.#options.batching,
    );
    if (refusal) {
      const until = claimUntil(refusal, Date.now());
      if (until !== undefined) this.#claims.claim(client, rowsPerKey, until, this.#keys, place);
      this.#refused++;
      this.#observer.refused(refusal.reason);
      return {admitted: false, refusal};
    }

    const request = new OpenRequest(submission, client, this.#partSeq + 1, Date.now(), this.#cancel);
    this.#open.add(request);
    for (let i = 0; i < agents.length; i++) {
      const state = this.#keys.place(keys[i]);
      const partId = ++this.#partSeq;
      request.keyStates[i] = state;
      request.threads[i] = state.thread;
      this.#parts.set(partId, request);
      this.#keys.hold(state);
      this.#clients.hold(client, state.key);
      this.#transport.send(state.thread, state.key, partId, deadline, agents[i].vector, client.number);
    }
    this.#deadlines.add(request);
    return {admitted: true, ticket: request};
  }

  /**
   * Tagged results from a thread: route each to its request; answer requests that are complete.
   * With `thread`, a result counts only for a part that was sent to that thread; returns how many
   * did not (a cluster peer answering for parts it was never sent). A batch report counts only
   * for a key this coordinator admitted (a foreign key takes no metric series).
   */
  onResults(message: ResultsMessage, thread?: number): number {
    for (const report of message.reports) {
      if (!this.#keys.get(report.key)) continue;
      this.#keys.measured(report.key, report.backendMs);
      this.#observer.batch(report);
    }
    this.#now = Date.now();
    this.#from = thread;
    this.#foreign = 0;
    forEachResult(message, this.#results);
    return this.#foreign;
  }

  /** What onResults does with each result (one object, made once). */
  readonly #results: ResultVisitor = {
    prediction: (partId, prediction, batch) => this.#arrived(partId, {prediction, batch}),
    error: (partId, code, message, batch) =>
      this.#arrived(partId, batch ? {error: {code, message}, batch} : {error: {code, message}}),
    withdrawn: (partId) => {
      // The thread expired the part before our own timer fired (clocks of a busy machine).
      if (!this.#arrived(partId, expiredInThread)) return;
      this.#withdrawn++;
      this.#observer.withdrawn();
    },
  };

  /**
   * A part's thread answered for it: its entry ends; its request gets the outcome unless already
   * answered. False when the part was no longer held (already ended here), or was sent to
   * another thread than the one answering.
   */
  #arrived(partId: number, outcome: AgentOutcome): boolean {
    const request = this.#parts.get(partId);
    if (!request) return false;
    const index = partId - request.firstPartId;
    if (this.#from !== undefined && request.threads[index] !== this.#from) {
      this.#foreign++;
      return false;
    }
    this.#parts.delete(partId);
    this.#release(request, index, this.#now);
    if (!request.done && request.answered(index, outcome)) this.#finish(request);
    return true;
  }

  /** A thread died: every part it held fails at once with `worker_failed`. */
  onThreadFailed(thread: number): void {
    let failed = 0;
    const now = Date.now();
    for (const [partId, request] of this.#parts) {
      const index = partId - request.firstPartId;
      if (request.threads[index] !== thread) continue;
      this.#parts.delete(partId);
      this.#release(request, index, now);
      if (request.done) continue;
      failed++;
      if (request.answered(index, threadFailed)) this.#finish(request);
    }
    this.#keys.displace(thread);
    this.#log.warn({thread, failed}, 'parts of a failed thread answered with worker_failed');
  }

  /** The thread takes no new parts (its host is stopping); its parts in flight are still answered. */
  onThreadLeaving(thread: number): void {
    this.#keys.displace(thread);
  }

  /** A thread joined: idle keys are placed anew, so every gateway agrees on where they live. */
  onThreadJoined(): void {
    this.#keys.retireIdle(Infinity);
  }

  /** Ends every open request now: agents without an outcome get `code` (shutdown). */
  abortAll(code: AgentErrorCode, message: string): void {
    const ending: Ending = {code, message};
    for (const request of this.#open.all()) this.#finish(request, ending);
  }

  /** Resolves when no request is open (at once if none is). */
  idle(): Promise<void> {
    return this.#open.idle();
  }

  close(): void {
    this.#keys.close();
    this.#deadlines.close();
    this.#claims.close();
  }

  /** Clients with something in flight. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Part `index` of the request is no longer held by its thread. */
  #release(request: OpenRequest, index: number, now: number): void {
    const state = request.keyStates[index];
    this.#keys.release(state, now);
    this.#clients.release(request.client, state.key);
  }

  /**
   * Answers the request. With an ending, agents still without an outcome get its error; those
   * still waiting in a mailbox are withdrawn (their entries go when their thread confirms or answers).
   */
  #finish(request: OpenRequest, ending?: Ending): void {
    if (request.done) return;
    request.done = true;
    this.#deadlines.delete(request);
    for (let i = 0; i < request.settled.length; i++) {
      const outcome = request.settled[i];
      if (outcome !== undefined) {
        this.#observer.outcome('prediction' in outcome ? 'prediction' : outcome.error.code);
        continue;
      }
      if (!ending) continue;
      request.settle(i, {error: {code: ending.code, message: ending.message}});
      this.#observer.outcome(ending.countAs ?? ending.code);
      const partId = request.firstPartId + i;
      if (this.#parts.has(partId)) this.#transport.withdraw(request.threads[i], request.keyStates[i].key, partId);
    }
    request.open = 0;
    request.resolve(request.settled as AgentOutcome[]);
    this.#open.delete(request);
  }
}
