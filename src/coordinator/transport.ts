// The coordinator's one seam to the actors: where a new key goes (its placement), and parts and
// withdrawals sent to a thread by index; tagged results and thread failures come back as events.
// The worker-thread pool (src/threads/pool.ts) implements it in one process, the gateway's NATS
// transport (src/cluster/gateway-transport.ts) over the cluster; a test drives the coordinator
// through a fake one, no threads.

import type {ResultsMessage} from '../protocol/messages.ts';

/**
 * Where a new key goes, one strategy per transport: the fewest keys over the process's threads
 * (placement.ts), or rendezvous over the cluster's live members (src/cluster/membership.ts).
 */
export interface Placement {
  /**
   * The thread a new (or displaced) key goes to, or undefined when no thread takes new keys.
   * `keysOn` counts the keys placed on a thread now.
   */
  place(key: string, keysOn: (thread: number) => number): number | undefined;
}

export interface Transport {
  readonly placement: Placement;
  /** Queues one part of a client (its number, clientNumber) for its thread (coalesced per turn by the transport). */
  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>, client: number): void;
  /** Queues the withdrawal of a part still waiting in its mailbox. */
  withdraw(thread: number, key: string, partId: number): void;
}

/** What a transport tells the coordinator. */
export interface TransportEvents {
  /**
   * Results from `thread`: each counts only for a part that was sent to that thread. Returns how
   * many were for parts sent elsewhere (refused: a peer answering for what it was never sent).
   */
  results(message: ResultsMessage, thread: number): number | undefined;
  /** The thread is gone (or not up): every part placed on it and not yet answered is lost. */
  threadFailed(thread: number): void;
  /** The thread takes no new keys (its host is stopping); what it holds is still answered. */
  threadLeaving?(thread: number): void;
  /** A thread joined: keys not in flight may now belong elsewhere. */
  threadJoined?(thread: number): void;
}
