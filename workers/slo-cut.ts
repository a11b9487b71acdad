// How large a batch may be, and by when it must be cut, for a model with `latency_slo_ms`
// (DESIGN §11). Pure: the batch queue (workers/batch-policy.ts) asks it with plain numbers.
//
// A row's latency is its wait in the mailbox plus its batch's call, predicted by the key's fitted
// cost (workers/cost-model.ts: fixed + per_row × rows). So for the oldest row of a group:
//   - size: the largest batch with  wait + fixed + per_row × rows ≤ SLO  (at least one row);
//   - time: a batch of n rows must be cut by  arrival + SLO − predicted(n),  window or not.
// Before the key's first measured call nothing is predicted: the window and max_batch_size alone
// decide, and the first calls teach the fit.
//
// When even one row can no longer make the SLO (an overload, a pause), no batch size saves the
// oldest row; cutting small batches then would lower throughput just when the backlog needs it
// most, and every row behind would miss too (the collapse Nexus and Clipper guard against). So a
// late head is cut at max_batch_size: the backlog drains at the runtime's best rate, and the SLO
// holds again for the rows after it.

import type {CostFit} from './cost-model.ts';
import {predictWith} from './cost-model.ts';

export interface Slo {
  readonly sloMs: number;
  /** The key's cost fit now; undefined before its first measured call. */
  readonly cost: CostFit | undefined;
}

/** Rows to cut from a group of `waiting` rows whose oldest has waited `waitedMs`, at most `maxRows`. */
export function sloBatchSize(slo: Slo, waitedMs: number, waiting: number, maxRows: number): number {
  const all = Math.min(waiting, maxRows);
  const {cost} = slo;
  if (!cost) return all;
  const budget = slo.sloMs - waitedMs - cost.fixedMs;
  if (budget < cost.perRowMs) return all;
  if (cost.perRowMs <= 0) return all;
  return Math.max(1, Math.min(all, Math.floor(budget / cost.perRowMs)));
}

/** The latest time a batch of `rows` rows whose oldest arrived at `oldestAt` can be cut and meet the SLO. */
export function sloCutBy(slo: Slo, oldestAt: number, rows: number): number {
  return slo.cost ? oldestAt + slo.sloMs - predictWith(slo.cost, rows) : Infinity;
}

/** False when a row due at `deadline` cannot be answered in time by a call predicted to take `predictedMs` from `now`. */
export function canMeetDeadline(now: number, deadline: number, predictedMs: number | undefined): boolean {
  return deadline > now + (predictedMs ?? 0);
}
