// Admission (DESIGN §3): a request gets a slot for every agent or is refused whole. Reasons are
// values: the same union drives the branch, the metric label and the client's message.
//
// Fair sharing: one client may hold at most CLIENT_SHARE of MAX_PENDING_TOTAL, of each key's
// MAX_PENDING_PER_MAILBOX and of MAX_MAILBOXES (as keys it has agents waiting in), so a client
// flooding the shared limits is refused (`client_share`) before it can lock everyone else out.

import type {BatchingOptions} from '../config.ts';
import type {ClientState} from './clients.ts';
import type {KeyState, KeyTable} from './keys.ts';

export type RefusalReason = 'client_share' | 'mailbox_full' | 'pending_full' | 'too_many_mailboxes' | 'no_actor_threads' | 'heap_full';

export const refusalMessages: Readonly<Record<RefusalReason, string>> = {
  client_share: "this client's share of the pending limits reached",
  mailbox_full: 'mailbox pending limit reached',
  pending_full: 'pending agents limit reached',
  too_many_mailboxes: 'too many mailboxes alive',
  no_actor_threads: 'no actor threads are up',
  heap_full: 'the gateway is short of memory',
};

export interface AdmissionLimits {
  readonly maxMailboxes: number;
  readonly maxPendingPerMailbox: number;
  readonly maxPendingTotal: number;
  /** One client's share (0..1] of each limit above; 1 = no per-client limit. */
  readonly clientShare: number;
}

/** A client's part of a limit: at least 1. */
const shareOf = (limit: number, share: number) => Math.max(1, Math.floor(limit * share));

export interface Refusal {
  readonly reason: RefusalReason;
  /** Seconds until the backlog behind the refusal should have drained. */
  readonly retryAfterSeconds: number;
}

/**
 * Checks a request of `client` whose agents use these keys (key -> agents of the request), or
 * says why not. The client's own share is checked first: a client at its share is refused while
 * others still get in. To make room for new keys, idle keys are retired first.
 */
export function admit(
  rowsPerKey: ReadonlyMap<string, number>,
  client: ClientState,
  keys: KeyTable,
  limits: AdmissionLimits,
  batching: BatchingOptions,
): Refusal | undefined {
  let rows = 0;
  let newKeys = 0;
  let newClientKeys = 0;
  const shared = limits.clientShare < 1;
  let overShare = false;
  const full: KeyState[] = [];
  const perMailboxShare = shareOf(limits.maxPendingPerMailbox, limits.clientShare);
  for (const [key, n] of rowsPerKey) {
    rows += n;
    const mine = client.perKey.get(key) ?? 0;
    if (mine === 0) newClientKeys++;
    if (shared && mine + n > perMailboxShare) overShare = true;
    const state = keys.get(key);
    if (!state) newKeys++;
    else if (state.live + n > limits.maxPendingPerMailbox) full.push(state);
  }
  if (shared && client.live + rows > shareOf(limits.maxPendingTotal, limits.clientShare)) overShare = true;
  if (shared && client.perKey.size + newClientKeys > shareOf(limits.maxMailboxes, limits.clientShare)) overShare = true;
  let reason: RefusalReason | undefined;
  if (overShare) reason = 'client_share';
  else if (full.length > 0) reason = 'mailbox_full';
  else if (keys.live + rows > limits.maxPendingTotal) reason = 'pending_full';
  else if (keys.size + newKeys > limits.maxMailboxes) {
    keys.retireIdle(Infinity, keys.size + newKeys - limits.maxMailboxes);
    if (keys.size + newKeys > limits.maxMailboxes) reason = 'too_many_mailboxes';
  }
  if (!reason) return undefined;
  const behind =
    reason === 'mailbox_full'
      ? full
      : reason === 'client_share'
        ? [...client.perKey.keys()].flatMap((k) => keys.get(k) ?? [])
        : [...keys.values()];
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
