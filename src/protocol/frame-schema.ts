// What a frame must hold to be read (codec.ts reads it): each kind's header as a zod schema
// (envelope, keys, counts within bounds), and its columns checked against each other (every part's
// key and length, every result's outcome, error and batch index within range). A frame that fails
// either is refused whole, with its reason, before any handler reads a field of it.

import {z} from 'zod';
import {maxActorPoolSize} from '../env-schema.ts';
import {agentErrorCodes} from '../errors.ts';
import type {DecodeProblem, WireMessage} from './codec.ts';
import {keySeparator} from './mailbox-key.ts';
import type {DispatchMessage, ResultsMessage} from './messages.ts';
import {Outcome, PartField, partStride, ResultField, resultStride} from './messages.ts';

const mailboxKey = z.string().max(512).includes(keySeparator);
/** A node name: one NATS subject token (as CLUSTER_NODE accepts). */
const nodeName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const envelope = {
  sender: nodeName,
  boot: nodeName,
  seq: z.int().positive(),
  ts: z.number().nonnegative(),
};
/** The Float64Array fields of each kind of message, in frame order. */
export const columnsOf: Partial<Record<WireMessage['kind'], readonly string[]>> = {
  dispatch: ['parts', 'data'],
  results: ['results'],
};
/** The header's `columns`: each column's length, one per field of columnsOf. */
const columnLengths = (kind: 'dispatch' | 'results') =>
  z.array(z.int().nonnegative()).length(columnsOf[kind]?.length ?? 0);

/**
 * Each kind of frame's header, as a peer must send it: a frame that parses as JSON but not as
 * this is refused whole, before any handler reads a field of it.
 */
export const header = z.discriminatedUnion('kind', [
  z.object({
    ...envelope,
    kind: z.literal('heartbeat'),
    threads: z.int().min(1).max(maxActorPoolSize),
    leaving: z.boolean().optional(),
  }),
  z.object({...envelope, kind: z.literal('dispatch'), keys: z.array(mailboxKey), columns: columnLengths('dispatch')}),
  z.object({
    ...envelope,
    kind: z.literal('withdraw'),
    withdrawals: z.array(z.object({key: mailboxKey, partIds: z.array(z.number())})),
  }),
  z.object({
    ...envelope,
    kind: z.literal('results'),
    thread: z
      .int()
      .min(0)
      .max(maxActorPoolSize - 1),
    columns: columnLengths('results'),
    errors: z.array(z.object({code: z.enum(agentErrorCodes), message: z.string()})),
    batches: z.array(z.object({id: z.string().max(512), size: z.int().positive()})),
    reports: z.array(
      z.object({
        key: mailboxKey,
        size: z.int().nonnegative(),
        backendMs: z.number().nonnegative(),
        result: z.enum(['ok', 'partial', ...agentErrorCodes]),
        waitsMs: z.array(z.number()),
        windowMs: z.number().nonnegative(),
      }),
    ),
  }),
]);

/** Why a dispatch's columns cannot be read as it says, if they cannot. */
export function dispatchProblem({keys, parts, data}: DispatchMessage): DecodeProblem | undefined {
  if (parts.length % partStride !== 0) return 'bad_parts';
  let floats = 0;
  for (let at = 0; at < parts.length; at += partStride) {
    const keyIndex = parts[at + PartField.keyIndex];
    const n = parts[at + PartField.length];
    const client = parts[at + PartField.client];
    if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex >= keys.length || !Number.isInteger(n) || n < 1)
      return 'bad_parts';
    if (!Number.isInteger(client) || client < 0 || client > 0xffffffff) return 'bad_parts';
    floats += n;
  }
  return floats === data.length ? undefined : 'bad_vectors';
}

/** Whether result `at` of a results column can be read as it says. */
function resultReadable(results: Float64Array, at: number, errors: number, batches: number): boolean {
  const outcome = results[at + ResultField.outcome];
  const batch = results[at + ResultField.batch];
  const value = results[at + ResultField.value];
  if (batch !== -1 && !(Number.isInteger(batch) && batch >= 0 && batch < batches)) return false;
  if (outcome === Outcome.prediction) return batch !== -1;
  if (outcome === Outcome.error) return Number.isInteger(value) && value >= 0 && value < errors;
  return outcome === Outcome.withdrawn;
}

/** Why a results message's columns cannot be read as it says, if they cannot. */
export function resultsProblem({results, errors, batches}: ResultsMessage): DecodeProblem | undefined {
  if (results.length % resultStride !== 0) return 'bad_results';
  for (let at = 0; at < results.length; at += resultStride)
    if (!resultReadable(results, at, errors.length, batches.length)) return 'bad_results';
  return undefined;
}
