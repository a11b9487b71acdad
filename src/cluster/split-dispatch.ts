// A dispatch (or a withdrawal, or an actor host's results) cut to fit the NATS server's max_payload: several frames, each
// with whole parts, their own packed vectors and only their own keys (a turn's key list can be
// larger than a frame: 250 keys of 128 characters in every piece overflowed it), so that no
// request is refused for the size of a turn's messages. What is counted is what the frame
// carries: each key's JSON bytes in the header, 8 bytes a number in the columns, and a fixed
// reserve for the rest of the header (envelope, column lengths), the padding and the signature.

import type {BatchReport, DispatchMessage, ResultsMessage, WithdrawMessage} from '../protocol/messages.ts';
import {Outcome, PartField, partStride, ResultField, resultStride} from '../protocol/messages.ts';

/** Bytes kept for a frame's fixed header fields, padding and signature (names are bounded subject tokens). */
export const frameReserve = 4096;

const encoder = new TextEncoder();
/** What `value` adds to a JSON header, with its comma. */
const jsonBytes = (value: string): number => encoder.encode(JSON.stringify(value)).length + 1;

/**
 * Splits a dispatch whose frame could exceed `maxBytes` (the NATS server's max_payload) into
 * several, in part order, each with whole parts, its own vectors and only the keys its parts use.
 * A piece holds at least one part: one that alone does not fit is still its own piece (its
 * publish fails and the gateway answers its part at once).
 */
export function splitDispatch<T extends DispatchMessage>(message: T, maxBytes: number): T[] {
  const budget = Math.max(1, maxBytes - frameReserve);
  const {parts, data, keys} = message;
  const keyBytes = keys.map(jsonBytes);
  let whole = (parts.length + data.length) * 8;
  for (const bytes of keyBytes) whole += bytes;
  if (whole <= budget) return [message];
  const out: T[] = [];
  let offset = 0;
  let start = 0;
  while (start < parts.length) {
    const index = new Map<number, number>();
    const own: string[] = [];
    const pieceParts: number[] = [];
    let floats = 0;
    let used = 0;
    let at = start;
    for (; at < parts.length; at += partStride) {
      const keyIndex = parts[at + PartField.keyIndex];
      const length = parts[at + PartField.length];
      const cost = (partStride + length) * 8 + (index.has(keyIndex) ? 0 : keyBytes[keyIndex]);
      if (at > start && used + cost > budget) break;
      used += cost;
      let mine = index.get(keyIndex);
      if (mine === undefined) {
        mine = own.push(keys[keyIndex]) - 1;
        index.set(keyIndex, mine);
      }
      pieceParts.push(
        parts[at + PartField.partId],
        mine,
        length,
        parts[at + PartField.deadline],
        parts[at + PartField.client],
      );
      floats += length;
    }
    out.push({
      ...message,
      keys: own,
      parts: new Float64Array(pieceParts),
      data: data.slice(offset, offset + floats),
    });
    offset += floats;
    start = at;
  }
  return out;
}

/** Splits a withdrawal the same way: whole keys where they fit, a key's part ids cut where one alone does not. */
export function splitWithdrawal(message: WithdrawMessage, maxBytes: number): WithdrawMessage[] {
  const budget = Math.max(1, maxBytes - frameReserve);
  const out: WithdrawMessage[] = [];
  let piece: {key: string; partIds: number[]}[] = [];
  let used = 0;
  const close = () => {
    if (piece.length > 0) out.push({kind: 'withdraw', withdrawals: piece});
    piece = [];
    used = 0;
  };
  for (const {key, partIds} of message.withdrawals) {
    // An entry: {"key":…,"partIds":[…]}, a part id at most 17 characters with its comma.
    const entry = jsonBytes(key) + 24;
    let ids: number[] = [];
    for (const id of partIds) {
      if (used + entry + (ids.length + 1) * 17 > budget && (ids.length > 0 || piece.length > 0)) {
        if (ids.length > 0) piece.push({key, partIds: ids});
        close();
        ids = [];
      }
      ids.push(id);
    }
    if (ids.length > 0) {
      piece.push({key, partIds: ids});
      used += entry + ids.length * 17;
    }
  }
  close();
  return out.length > 1 ? out : [message];
}

/**
 * Splits a results message the same way (an actor host's answers to one gateway in one turn):
 * whole results, each piece with only the errors and batches its results name (indexes
 * renumbered); the batch reports (each with one wait per row) go in pieces of their own.
 */
export function splitResults<T extends ResultsMessage>(message: T, maxBytes: number): T[] {
  const budget = Math.max(1, maxBytes - frameReserve);
  const sizes = (items: readonly object[]) => items.map((item) => encoder.encode(JSON.stringify(item)).length + 1);
  const errorBytes = sizes(message.errors);
  const batchBytes = sizes(message.batches);
  const reportBytes = sizes(message.reports);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const {results} = message;
  if (results.length * 8 + sum(errorBytes) + sum(batchBytes) + sum(reportBytes) <= budget) return [message];
  const out: T[] = [];
  let at = 0;
  while (at < results.length) {
    const errors = new Map<number, number>();
    const batches = new Map<number, number>();
    const column: number[] = [];
    let used = 0;
    for (; at < results.length; at += resultStride) {
      const outcome = results[at + ResultField.outcome];
      const error = outcome === Outcome.error ? results[at + ResultField.value] : -1;
      const batch = results[at + ResultField.batch];
      const cost =
        resultStride * 8 +
        (error >= 0 && !errors.has(error) ? errorBytes[error] : 0) +
        (batch >= 0 && !batches.has(batch) ? batchBytes[batch] : 0);
      if (column.length > 0 && used + cost > budget) break;
      used += cost;
      if (error >= 0 && !errors.has(error)) errors.set(error, errors.size);
      if (batch >= 0 && !batches.has(batch)) batches.set(batch, batches.size);
      const value = error >= 0 ? (errors.get(error) as number) : results[at + ResultField.value];
      column.push(results[at + ResultField.partId], outcome, value, batch >= 0 ? (batches.get(batch) as number) : -1);
    }
    out.push({
      ...message,
      results: new Float64Array(column),
      errors: [...errors.keys()].map((i) => message.errors[i]),
      batches: [...batches.keys()].map((i) => message.batches[i]),
      reports: [],
    });
  }
  let reports: BatchReport[] = [];
  let used = 0;
  for (const [i, report] of message.reports.entries()) {
    if (reports.length > 0 && used + reportBytes[i] > budget) {
      out.push({...message, results: new Float64Array(0), errors: [], batches: [], reports});
      reports = [];
      used = 0;
    }
    reports.push(report);
    used += reportBytes[i];
  }
  if (reports.length > 0) out.push({...message, results: new Float64Array(0), errors: [], batches: [], reports});
  return out;
}
