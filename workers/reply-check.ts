// The backend's reply contract, checked once, where the reply arrives (dataloader's rule): one
// value per row, each a finite number. Both backends hand their reply over unchecked.

import type {BackendReply} from './backend/backend.ts';

/** A reply (or, for the HTTP backend, one sub-call's reply) with the wrong number of values. */
export function countProblem(got: number | undefined, rows: number): string | undefined {
  return got === rows ? undefined : `backend replied with ${got ?? 'no'} values for ${rows} rows`;
}

/** Why the reply cannot be used for a batch of `rows` rows, or undefined when it can. */
export function replyProblem(reply: BackendReply | undefined, rows: number): string | undefined {
  const values = reply?.values;
  const wrongCount = countProblem(values?.length, rows);
  if (wrongCount || !values) return wrongCount;
  for (let i = 0; i < values.length; i++) {
    if (reply.rejected?.has(i)) continue;
    const value = values[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) return `backend replied with a non-finite value at row ${i}`;
  }
  return undefined;
}
