// Admission (DESIGN §3): a request gets a slot for every agent or is refused whole. Reasons are
// values: the same union drives the branch, the metric label and the client's message.
//
// The fair share binds only under contention. Three limits are shared: each key's
// MAX_PENDING_PER_MAILBOX, MAX_PENDING_TOTAL, and MAX_MAILBOXES (the keys a client holds). A client
// that finds a limit full leaves a claim (claims.ts): what it asked for. On each limit:
//
//   - capacity free now is never held back from whoever asks now: a claim stakes only what was
//     held of the limit when it was made (held still, or freed since), and lapses a second after
//     its Retry-After unless its client asks again. A lone client on an idle service, or any
//     client beside claims that stake nothing, is never refused while capacity remains;
//   - a client's fair part is its max-min share over the demands (demands.ts): what each client
//     holds, or would hold with its claim, and what this client would hold with the request.
//     Clients wanting less than an equal split keep all they want; the rest is split among the
//     others. Above it, a client holding some of the limit gives way to every claim staking
//     capacity and is refused `client_share`, leaving no claim; a client holding none never is.
//     Within it, it is refused with the limit's reason (`mailbox_full`, `pending_full`,
//     `too_many_mailboxes`) only when what is held and its request exceed the limit; when what it
//     lacks is the capacity freed for the claims ahead of it (those that would hold less, or as
//     much and asked first), with `claims_queued` and a Retry-After until they are due back and
//     room for them and it has freed (at the latest, until they lapse). Either way it leaves a
//     claim that keeps its place;
//   - so the capacity freed as admitted agents finish (admission cannot evict them) goes to the
//     clients that claimed it, smallest first, in about one backend call, instead of going back
//     to whoever fills fastest.
//
// MAX_MAILBOXES: a key with agents in flight has its mailbox, so a request only for such keys is
// never refused by the limit, and a claim counts none for them. One that opens a mailbox (a new
// key, or an idle one: its actor went when it emptied) takes one, in line with the claims. A mailbox frees only
// when its key drains, so a client above its share of the mailboxes while others claim one is
// refused `client_share` for keeping its keys busy too: they drain, and each one idle is retired
// for the first claim (or by the idle sweep, keys.ts). Its keys that other clients also hold are
// refused to it as well (else a second address sharing every key would keep them all); for those
// clients, within their share, nothing changes.
//
// Each client sharing a limit gets its part, N addresses or keys get N parts, never the whole
// while others wait. A request larger than its client's fair part gets in only when the capacity
// it needs is free beyond every claim.

import type {BatchingOptions} from '../config.ts';
import type {ClaimTable} from './claims.ts';
import type {ClientState, ClientTable} from './clients.ts';
import type {Demands} from './demands.ts';
import {drainSeconds} from './keys.ts';
import type {KeyState, KeyTable} from './keys.ts';
import {standing} from './standing.ts';
import type {OnLimit, Standing} from './standing.ts';

export type RefusalReason =
  | 'client_share'
  | 'mailbox_full'
  | 'pending_full'
  | 'too_many_mailboxes'
  | 'claims_queued'
  | 'no_actor_threads'
  | 'heap_full';

export const refusalMessages: Readonly<Record<RefusalReason, string>> = {
  client_share: 'this client holds more than its fair share while other clients wait',
  mailbox_full: 'mailbox pending limit reached',
  pending_full: 'pending agents limit reached',
  too_many_mailboxes: 'too many mailboxes alive',
  claims_queued:
    'the capacity free now is promised to clients refused before this one, until they come back (claims queued ahead)',
  no_actor_threads: 'no actor threads are up',
  heap_full: 'the gateway is short of memory',
};

export interface AdmissionLimits {
  readonly maxMailboxes: number;
  readonly maxPendingPerMailbox: number;
  readonly maxPendingTotal: number;
}

export interface Refusal {
  readonly reason: RefusalReason;
  /** Seconds until what the client waits for should have freed (keys.ts, drainSeconds). */
  readonly retryAfterSeconds: number;
}

/** What admission reads: the keys alive, who holds what, and the claims. */
export interface AdmissionState {
  readonly keys: KeyTable;
  readonly clients: ClientTable;
  readonly claims: ClaimTable;
}

/** Refusals that leave a claim: the client was within its fair part and a limit was full. */
const claimedOn: ReadonlySet<RefusalReason> = new Set([
  'mailbox_full',
  'pending_full',
  'too_many_mailboxes',
  'claims_queued',
]);
/** A claim holds for the refusal's Retry-After and this much more, for the client to come back. */
const claimGraceMs = 1000;

/** Until when a refusal's claim holds (epoch ms), or undefined when it leaves none (claims.ts). */
export function claimUntil(refusal: Refusal, now: number): number | undefined {
  return claimedOn.has(refusal.reason) ? now + refusal.retryAfterSeconds * 1000 + claimGraceMs : undefined;
}

/**
 * Checks a request of `client` whose agents use these keys (key -> agents of the request), or
 * says why not: no thread to place a key on, then the limits. The client's own claim, if any, must
 * be dropped before (its place in line is `place`). To make room for new keys, idle keys are
 * retired first.
 */
export function admit(
  rowsPerKey: ReadonlyMap<string, number>,
  client: ClientState,
  place: number,
  {keys, clients, claims}: AdmissionState,
  limits: AdmissionLimits,
  batching: BatchingOptions,
  now = Date.now(),
): Refusal | undefined {
  for (const key of rowsPerKey.keys())
    if (!keys.canPlace(key)) return {reason: 'no_actor_threads', retryAfterSeconds: 1};
  let rows = 0;
  /** Keys of the request not alive: each needs a mailbox of its own. */
  let newKeys = 0;
  /** Keys of the request with nothing in flight (new or idle): each takes a mailbox. */
  let idleKeys = 0;
  let newClientKeys = 0;
  const found = new Set<Standing>();
  const full: KeyState[] = [];
  /** When the claims the request waits behind end unless renewed (epoch ms). */
  let queuedUntil = 0;
  /** Seconds until what the claims ahead and the request need has freed, on the limits it waits on. */
  let queuedFrees = 0;
  /**
   * `frees`: what frees the limit (keys.ts, drainSeconds): room on one key (a KeyState, or
   * undefined for a new key), room on any key ('room'), or the first key to drain ('first').
   * Worked out only when the request is queued: no closure or array per request.
   */
  const judge = (on: OnLimit, frees: KeyState | undefined | 'room' | 'first'): Standing => {
    const result = standing(on, place, now);
    found.add(result);
    if (result === 'queued') {
      const ahead = on.claims.queue(on.mine + on.need, place, now);
      queuedUntil = Math.max(queuedUntil, ahead.until);
      const n = ahead.wants + on.need;
      const seconds =
        frees === 'first'
          ? drainSeconds(keys.values(), batching, 'first')
          : drainSeconds(frees === 'room' ? keys.values() : frees ? [frees] : [], batching, 'room', n);
      queuedFrees = Math.max(queuedFrees, seconds);
    }
    return result;
  };
  for (const [key, n] of rowsPerKey) {
    rows += n;
    const mine = client.perKey.get(key) ?? 0;
    if (mine === 0) newClientKeys++;
    const state = keys.get(key);
    const used = state?.live ?? 0;
    if (!state) newKeys++;
    if (used === 0) idleKeys++;
    const onKey = judge(
      {
        limit: limits.maxPendingPerMailbox,
        mine,
        need: n,
        used,
        usedAfter: used + n,
        holders: clients.onKey(key),
        claims: claims.onKey(key),
      },
      state,
    );
    if (onKey === 'full' && state) full.push(state);
  }
  const mailboxFull = found.has('full');
  const total = judge(
    {
      limit: limits.maxPendingTotal,
      mine: client.live,
      need: rows,
      used: keys.live,
      usedAfter: keys.live + rows,
      holders: clients.total,
      claims: claims.total,
    },
    'room',
  );
  const onMailboxes: OnLimit = {
    limit: limits.maxMailboxes,
    mine: client.perKey.size,
    need: newClientKeys,
    used: keys.busy,
    usedAfter: keys.busy + idleKeys,
    holders: mailboxHolders(client, keys, clients),
    claims: claims.mailboxes,
  };
  // Keys in flight take no mailbox: never refused by the limit, only by the share.
  let mailboxes = idleKeys > 0 ? judge(onMailboxes, 'first') : standing(onMailboxes, place, now);
  if (mailboxes !== 'over_share' && idleKeys === 0) mailboxes = 'fits';
  let reason: RefusalReason | undefined;
  if (found.has('over_share') || mailboxes === 'over_share') reason = 'client_share';
  else if (mailboxFull) reason = 'mailbox_full';
  else if (total === 'full') reason = 'pending_full';
  else if (mailboxes === 'full') reason = 'too_many_mailboxes';
  else if (found.has('queued')) reason = 'claims_queued';
  // Room for the new keys: idle keys (none of this request's) give theirs up, oldest first.
  else if (keys.size + newKeys > limits.maxMailboxes)
    keys.retireIdle(Infinity, keys.size + newKeys - limits.maxMailboxes, rowsPerKey);
  if (!reason) return undefined;
  // Queued: back when the claims ahead are due back and what they and it need has freed, at the
  // latest when they lapse. Not "when the last claim ahead lapses": each claim would then wait for
  // the grace of the one before it, a second more each (50 clients asking for 4 agents beside a
  // flood waited up to 50 s).
  if (reason === 'claims_queued') {
    const back = Math.ceil((queuedUntil - claimGraceMs - now) / 1000);
    const lapse = Math.ceil((queuedUntil - now) / 1000);
    return {reason, retryAfterSeconds: Math.max(1, Math.min(lapse, Math.max(back, queuedFrees)))};
  }
  // Above its share: until its own keys drain. Otherwise until what it needs frees: room on the
  // full mailbox or in the total (the next rounds of batches), or the first mailbox to drain.
  if (reason === 'client_share') {
    const own = [...client.perKey.keys()].flatMap((k) => keys.get(k) ?? []);
    return {reason, retryAfterSeconds: drainSeconds(own, batching)};
  }
  if (reason === 'too_many_mailboxes')
    return {reason, retryAfterSeconds: drainSeconds(keys.values(), batching, 'first')};
  return {
    reason,
    retryAfterSeconds: drainSeconds(reason === 'mailbox_full' ? full : keys.values(), batching, 'room', rows),
  };
}

/**
 * What the clients holding mailboxes hold of them, for the max-min share: each counts the keys it
 * has agents in, so a key many clients share counts many times; but the others cannot want more
 * mailboxes than the busy keys that are not this client's alone.
 */
function mailboxHolders(client: ClientState, keys: KeyTable, clients: ClientTable): Pick<Demands, 'sumMin'> {
  return {
    sumMin(x: number): number {
      let alone = 0;
      for (const [key, mine] of client.perKey) if (keys.get(key)?.live === mine) alone++;
      return Math.min(clients.mailboxes.sumMin(x), client.perKey.size + keys.busy - alone);
    },
  };
}
