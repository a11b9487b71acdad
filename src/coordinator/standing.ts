// One limit as a request sees it (admission.ts): whether taking what it needs fits beside the
// claims, or why not: over the client's max-min share, the limit full, or queued behind claims.

import type {ClaimsOn} from './claims.ts';
import type {Demands} from './demands.ts';

/** Where a request stands on one limit (see `standing`). */
export type Standing = 'fits' | 'full' | 'queued' | 'over_share';

/**
 * One limit as a request sees it: what the client holds of it (`mine`) and would take (`need`),
 * what all clients hold now (`used`) and would with the request (`usedAfter`), what the clients
 * holding some hold (the client included, if it does), and the claims on it.
 */
export interface OnLimit {
  readonly limit: number;
  readonly mine: number;
  readonly need: number;
  readonly used: number;
  readonly usedAfter: number;
  readonly holders: Pick<Demands, 'sumMin'> | undefined;
  readonly claims: ClaimsOn;
}

/**
 * Whether taking `need` more of a limit `fits` beside the claims, which stake only what was held
 * when they were made (claims.ts). If not: `over_share` for a client holding some of it that
 * would then hold more than its max-min fair part (more than one); else `full` if what is held
 * and the request exceed the limit, or `queued` if what it lacks is the capacity freed since the
 * claims ahead of it were made (theirs until they come back or lapse).
 *
 * @param place the client's place in line (its last claim's), Infinity if it has none
 */
export function standing(on: OnLimit, place: number, now: number): Standing {
  const {limit, mine, need, used, usedAfter, holders, claims} = on;
  const all = claims.queue(Infinity, Infinity, now);
  if (usedAfter + Math.min(all.wants, all.heldThen) <= limit) return 'fits';
  const level = mine + need;
  // At least 1: with more clients than the limit, each may still hold one.
  if (mine > 0 && level > 1) {
    const others = (holders?.sumMin(level) ?? 0) - mine + claims.sumMin(level);
    // Nobody else holding or waiting: the limit is full, no share binds.
    if (others > 0 && others + level > limit) return 'over_share';
  }
  if (usedAfter > limit) return 'full';
  const ahead = claims.queue(level, place, now);
  return usedAfter + Math.min(ahead.wants, Math.max(0, ahead.heldThen - used)) <= limit ? 'fits' : 'queued';
}
