// The coordinator's one seam to the actors: it sends parts and withdrawals to a thread by index,
// and hears back tagged results and thread failures. The worker-thread pool (src/threads/pool.ts)
// implements it in one process; a test drives the coordinator through a fake one, no threads.

import type {ResultsMessage} from '../protocol/messages.ts';

export interface Transport {
  /** Actor threads a key may be placed on: 0 .. threads - 1 (for the default placement). */
  readonly threads: number;
  /**
   * Where a new key goes, when the transport decides (the cluster: rendezvous over live
   * members); undefined = no thread is up. Without it, the thread hosting the fewest keys.
   */
  placeKey?(key: string): number | undefined;
  /** Queues one part for its thread (coalesced per turn by the transport). */
  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>): void;
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
