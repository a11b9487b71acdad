// The seam between the service and its actors, wider than the coordinator's: besides the
// Transport, the service starts, drains and closes them. This process's thread pool (ROLE=all) and
// a gateway's transport to actor hosts over NATS (ROLE=gateway) are the two; what only this
// process's threads have (stats, restarts, registry reloads) the service asks of its pool.

import type {Transport} from '../coordinator/transport.ts';

export interface ActorSide extends Transport {
  /** Resolves once the actors can take parts (threads up, or some member announced). */
  ready(): Promise<void>;
  /** False while no actor thread is reachable (NATS down, no members): /readyz is 503. */
  available?(): boolean;
  /** Shutdown: what is queued goes now; in-process threads cut their waiting batches. */
  drain(): void;
  close(): Promise<void>;
  /** Actor hosts over NATS: frames refused so far, by reason. */
  readonly refusals?: ReadonlyMap<string, number>;
}
