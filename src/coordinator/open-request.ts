// One admitted request while it is open: its agents' parts (agent i travels as part
// firstPartId + i), where each was sent, the outcomes so far, its deadline, and the ticket the
// HTTP front end holds. Kept lean, thousands are open at once: no timer, closure or result object
// of its own; the coordinator settles and finishes it. OpenRequests: all of them, and a wait for
// none (the drain).

import type {AgentErrorCode} from '../errors.ts';
import type {AgentOutcome, Submission, Ticket} from './api.ts';
import type {ClientState} from './clients.ts';
import type {Timed} from './deadlines.ts';
import type {KeyState} from './keys.ts';

/** How a request ends early: agents still without an outcome get this error. */
export interface Ending {
  readonly code: AgentErrorCode;
  readonly message: string;
  /** The metric outcome, when it differs from the code (a client that left). */
  readonly countAs?: 'client_gone';
}

export const clientGone: Ending = {code: 'shutting_down', message: 'client went away', countAs: 'client_gone'};
/** A part its thread withdrew because its deadline passed there first (clocks of a busy machine). */
export const expiredInThread: AgentOutcome = {
  error: {code: 'deadline_exceeded', message: 'deadline passed before dispatch'},
};
export const threadFailed: AgentOutcome = {
  error: {code: 'worker_failed', message: 'the actor thread holding this agent failed'},
};

/**
 * One admitted request, and its ticket: the HTTP layer holds it as a `Ticket` while it waits.
 * Kept lean (thousands are open at once): no timer, closure or result object of its own.
 */
export class OpenRequest implements Ticket, Timed {
  readonly id: string;
  readonly client: ClientState;
  /** Agent i travels as part firstPartId + i. */
  readonly firstPartId: number;
  /** Part i's key: its string form is `.key`, its thread where new parts go. */
  readonly keyStates: KeyState[];
  /** The thread part i was sent to (a key may move while its parts are in flight). */
  readonly threads: number[];
  readonly settled: (AgentOutcome | undefined)[];
  readonly deadline: number;
  /** What the deadline allowed when admitted, for the deadline error's message. */
  readonly waitMs: number;
  heapIndex = -1;
  open: number;
  done = false;
  readonly onOutcome: ((index: number, outcome: AgentOutcome) => void) | undefined;
  readonly outcomes: Promise<AgentOutcome[]>;
  readonly resolve: (outcomes: AgentOutcome[]) => void;
  /** The coordinator's, shared by every request. */
  readonly #cancel: (request: OpenRequest) => void;

  constructor(
    submission: Submission,
    client: ClientState,
    firstPartId: number,
    now: number,
    cancel: (request: OpenRequest) => void,
  ) {
    const n = submission.agents.length;
    this.id = submission.requestId;
    this.client = client;
    this.firstPartId = firstPartId;
    this.keyStates = new Array<KeyState>(n);
    this.threads = new Array<number>(n);
    this.settled = new Array<AgentOutcome | undefined>(n);
    this.deadline = submission.deadline;
    this.waitMs = Math.max(0, submission.deadline - now);
    this.open = n;
    this.onOutcome = submission.onOutcome;
    const {promise, resolve} = Promise.withResolvers<AgentOutcome[]>();
    this.outcomes = promise;
    this.resolve = resolve;
    this.#cancel = cancel;
  }

  cancel(): void {
    this.#cancel(this);
  }

  /** Agent `index` has its outcome: recorded, and told to a streaming client at once. */
  settle(index: number, outcome: AgentOutcome): void {
    this.settled[index] = outcome;
    this.onOutcome?.(index, outcome);
  }

  /** Part `index` was answered for while the request is open: settled; true when it was the last. */
  answered(index: number, outcome: AgentOutcome): boolean {
    this.settle(index, outcome);
    return --this.open === 0;
  }
}

/** The open requests, and who waits for there to be none. */
export class OpenRequests {
  readonly #open = new Set<OpenRequest>();
  #idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.#open.size;
  }

  add(request: OpenRequest): void {
    this.#open.add(request);
  }

  /** The request is answered: no longer open (the last one wakes those waiting in idle()). */
  delete(request: OpenRequest): void {
    this.#open.delete(request);
    if (this.#open.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** A copy: finishing a request deletes it. */
  all(): OpenRequest[] {
    return [...this.#open];
  }

  /** Resolves when no request is open (at once if none is). */
  idle(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}
