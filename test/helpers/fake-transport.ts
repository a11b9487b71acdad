// The coordinator alone, without threads: a transport that records what it is asked to send, and
// a test plays the threads' part with the results messages they would send (each prediction by
// DESIGN §4's formula, so answers can be checked against it).

import {Coordinator} from '../../src/coordinator/coordinator.ts';
import type {AgentInput, CoordinatorOptions, Ticket} from '../../src/coordinator/api.ts';
import {fewestKeys} from '../../src/coordinator/placement.ts';
import type {Placement, Transport} from '../../src/coordinator/transport.ts';
import {createLogger} from '../../src/log.ts';
import {parseKey} from '../../src/protocol/mailbox-key.ts';
import type {ResultsMessage} from '../../src/protocol/messages.ts';
import {ResultsBuffer} from '../../src/protocol/outbox.ts';
import {bias, predictRow} from '../../src/simulator/formula.ts';

export interface SentPart {
  readonly thread: number;
  readonly key: string;
  readonly partId: number;
  readonly vector: ArrayLike<number>;
}

export class RecordingTransport implements Transport {
  readonly placement: Placement;
  /** Parts sent and not yet answered by `answer`. */
  readonly unanswered: SentPart[] = [];
  constructor(threads: number) {
    this.placement = fewestKeys(threads);
  }
  send(thread: number, key: string, partId: number, _deadline: number, vector: ArrayLike<number>): void {
    this.unanswered.push({thread, key, partId, vector});
  }
  withdraw(): void {}
}

export function coordinatorAlone(options: Partial<CoordinatorOptions> & Pick<CoordinatorOptions, 'maxMailboxes'>) {
  const transport = new RecordingTransport(2);
  const coordinator = new Coordinator(
    transport,
    {
      batching: {maxBatchSize: 4, maxWaitMs: 5, waitFraction: 0.02, maxConcurrentBatches: 0},
      maxPendingPerMailbox: 1000,
      maxPendingTotal: 1000,
      expectedLatencyMs: 1000,
      ...options,
    },
    createLogger('silent'),
  );
  /** Answers, by the formula, the parts sent that match (all by default), as their thread would. */
  const answer = (which: (part: SentPart) => boolean = () => true): number => {
    const buffer = new ResultsBuffer();
    const parts = transport.unanswered.filter(which);
    for (const part of parts) {
      const {agentType, model} = parseKey(part.key);
      buffer.prediction(part.partId, predictRow(bias(model, agentType), part.vector), {id: 'b', size: 1});
      transport.unanswered.splice(transport.unanswered.indexOf(part), 1);
    }
    if (parts.length > 0) coordinator.onResults(buffer.take() as ResultsMessage);
    return parts.length;
  };
  let seq = 0;
  /** Submits `n` agents of `client` for (agentType, model), vectors [client's seq, i]. */
  const ask = (client: string, n: number, agentType = 't', model = 'm') => {
    const request = ++seq;
    const agents: AgentInput[] = Array.from({length: n}, (_, i) => ({
      id: `a${i}`,
      vector: [request, i],
      model,
      agentType,
    }));
    const admission = coordinator.submit({requestId: `r${request}`, client, agents, deadline: Date.now() + 60_000});
    return {admission, agents};
  };
  return {transport, coordinator, answer, ask};
}

export type Asked = ReturnType<ReturnType<typeof coordinatorAlone>['ask']>;

export const reasonOf = ({admission}: Asked) => (admission.admitted ? 'admitted' : admission.refusal.reason);

/** The outcomes of an admitted request, each checked against the formula by the caller. */
export function ticketOf({admission}: Asked): Ticket {
  if (!admission.admitted) throw new Error(`refused: ${admission.refusal.reason}`);
  return admission.ticket;
}
