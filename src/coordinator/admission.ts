// Admission (DESIGN §3): a request gets a slot for every agent or is refused whole. Reasons are
// values: the same union drives the branch, the metric label and the client's message.

import type {BatchingOptions} from '../config.ts';
import type {KeyState, KeyTable} from './keys.ts';

export type RefusalReason = 'mailbox_full' | 'pending_full' | 'too_many_mailboxes';

export const refusalMessages: Readonly<Record<RefusalReason, string>> = {
  mailbox_full: 'mailbox pending limit reached',
  pending_full: 'pending agents limit reached',
  too_many_mailboxes: 'too many mailboxes alive',
};

export interface AdmissionLimits {
  readonly maxMailboxes: number;
  readonly maxPendingPerMailbox: number;
  readonly maxPendingTotal: number;
}

export interface Refusal {
  readonly reason: RefusalReason;
  /** Seconds until the backlog behind the refusal should have drained. */
  readonly retryAfterSeconds: number;
}

/**
 * Checks a request whose agents use these keys (key -> agents of the request), or says why not.
 * To make room for new keys, idle keys are retired first.
 */
export function admit(
  rowsPerKey: ReadonlyMap<string, number>,
  keys: KeyTable,
  limits: AdmissionLimits,
  batching: BatchingOptions,
): Refusal | undefined {
  let rows = 0;
  let newKeys = 0;
  const full: KeyState[] = [];
  for (const [key, n] of rowsPerKey) {
    rows += n;
    const state = keys.get(key);
    if (!state) newKeys++;
    else if (state.live + n > limits.maxPendingPerMailbox) full.push(state);
  }
  let reason: RefusalReason | undefined;
  if (full.length > 0) reason = 'mailbox_full';
  else if (keys.live + rows > limits.maxPendingTotal) reason = 'pending_full';
  else if (keys.size + newKeys > limits.maxMailboxes) {
    keys.retireIdle(Infinity, keys.size + newKeys - limits.maxMailboxes);
    if (keys.size + newKeys > limits.maxMailboxes) reason = 'too_many_mailboxes';
  }
  if (!reason) return undefined;
  const behind = reason === 'mailbox_full' ? full : [...keys.values()];
  return {reason, retryAfterSeconds: retryAfterSeconds(behind, batching)};
}

/** Seconds until the backlog of these keys should have drained, from their measured latency. */
export function retryAfterSeconds(keys: Iterable<KeyState>, batching: BatchingOptions): number {
  const {maxBatchSize, maxConcurrentBatches} = batching;
  let worstMs = 0;
  for (const key of keys) {
    const batches = Math.ceil(key.live / maxBatchSize);
    const rounds = maxConcurrentBatches === 0 ? Math.min(1, batches) : Math.ceil(batches / maxConcurrentBatches);
    worstMs = Math.max(worstMs, rounds * key.latencyMs);
  }
  return Math.max(1, Math.ceil(worstMs / 1000));
}
