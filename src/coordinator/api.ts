// The coordinator's contract with the rooms above it: what the HTTP front end submits and gets
// back (Submitter, Submission, Ticket, AgentOutcome), and what the coordinator tells whoever
// watches it (CoordinatorObserver: the metrics); its options and its counts. Types only.

import type {BatchingOptions} from '../config.ts';
import type {AgentError, AgentErrorCode} from '../errors.ts';
import type {BatchInfo, BatchReport} from '../protocol/messages.ts';
import type {AdmissionLimits, Refusal, RefusalReason} from './admission.ts';

export interface AgentInput {
  readonly id: string;
  readonly vector: ArrayLike<number>;
  readonly model: string;
  readonly agentType: string;
}

export type AgentOutcome =
  | {readonly prediction: number; readonly batch: BatchInfo}
  | {readonly error: AgentError; readonly batch?: BatchInfo};

/** An admitted request: its outcomes to come, and a way to give up on it (client gone). */
export interface Ticket {
  readonly outcomes: Promise<AgentOutcome[]>;
  /** Withdraws the agents still waiting in a mailbox; the outcomes resolve at once. */
  cancel(): void;
}

export type Admission =
  | {readonly admitted: true; readonly ticket: Ticket}
  | {readonly admitted: false; readonly refusal: Refusal};

export interface Submission {
  readonly requestId: string;
  /** Who sent it, for the per-client shares: its API key's name, else its address. */
  readonly client: string;
  readonly agents: readonly AgentInput[];
  /** Epoch ms by which every agent has an outcome. */
  readonly deadline: number;
  /** Called as each agent's outcome is known, in the order they come (streamed answers). */
  readonly onOutcome?: (index: number, outcome: AgentOutcome) => void;
}

/** All the HTTP layer needs of the coordinator. */
export interface Submitter {
  /**
   * Admits and dispatches every agent; the ticket's outcomes come one per agent, in order, by
   * the deadline at the latest. A refusal dispatches nothing.
   */
  submit(submission: Submission): Admission;
}

/** What the coordinator tells whoever watches it. */
export interface CoordinatorObserver {
  /** One agent's final outcome (`client_gone` when its client left before it had one). */
  outcome(outcome: 'prediction' | AgentErrorCode | 'client_gone'): void;
  refused(reason: RefusalReason): void;
  withdrawn(): void;
  batch(report: BatchReport): void;
  keyRetired(key: string): void;
}

export interface CoordinatorOptions extends AdmissionLimits {
  readonly batching: BatchingOptions;
  /** Backend latency assumed for a key before one of its calls has been measured. */
  readonly expectedLatencyMs: number;
  /** A key with nothing in flight for this long gives up its placement. */
  readonly keyIdleMs?: number;
  readonly observer?: CoordinatorObserver;
}

export interface CoordinatorStats {
  readonly openRequests: number;
  readonly liveParts: number;
  readonly keys: number;
  readonly withdrawn: number;
  readonly refused: number;
  /** Clients refused within their fair part whose claim still holds (claims.ts). */
  readonly claims: number;
}
