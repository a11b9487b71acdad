// A dispatch cut to fit the NATS server's max_payload: several frames, each with whole parts and
// their own packed vectors, so that no request is refused for the size of a turn's messages.

import type {DispatchMessage} from '../protocol/messages.ts';
import {PartField, partStride} from '../protocol/messages.ts';

/**
 * Splits a dispatch whose frame would exceed `maxBytes` (the NATS server's max_payload) into
 * several, each with whole parts and its own packed vectors.
 */
export function splitDispatch<T extends DispatchMessage>(message: T, maxBytes: number): T[] {
  const budget = Math.max(1, Math.floor((maxBytes - 64 * 1024) / 8));
  const {parts, data} = message;
  if (parts.length + data.length <= budget) return [message];
  const out: T[] = [];
  let start = 0;
  let offset = 0;
  while (start < parts.length) {
    let end = start;
    let used = 0;
    // At least one part per piece, however long its vector.
    while (end < parts.length && (end === start || used + partStride + parts[end + PartField.length] <= budget)) {
      used += partStride + parts[end + PartField.length];
      end += partStride;
    }
    let floats = 0;
    for (let at = start; at < end; at += partStride) floats += parts[at + PartField.length];
    out.push({...message, parts: parts.slice(start, end), data: data.slice(offset, offset + floats)});
    offset += floats;
    start = end;
  }
  return out;
}
