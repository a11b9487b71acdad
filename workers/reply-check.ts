// The backend's reply contract, checked once, where the reply arrives (dataloader's rule), the
// same for every backend:
//   - the reply must hold one value per row, else it is useless for the whole batch;
//   - a value that is not a finite number fails *its row only*: one client's row (say a vector
//     whose weighted sum overflows to Infinity) must never fail another client's row.

import type {BackendReply} from './backend/backend.ts';

/** A reply (or, for the HTTP backend, one sub-call's reply) with the wrong number of values. */
export function countProblem(got: number | undefined, rows: number): string | undefined {
  return got === rows ? undefined : `backend replied with ${got ?? 'no'} values for ${rows} rows`;
}

/** Why the whole reply cannot be used for a batch of `rows` rows, or undefined when it can. */
export function replyProblem(reply: BackendReply | undefined, rows: number): string | undefined {
  return countProblem(reply?.values?.length, rows);
}

/** Why one row's value is unusable, or undefined for a finite number. */
export function valueProblem(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return undefined;
  return 'backend replied with a non-finite value for this row';
}
