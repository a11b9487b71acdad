// JSON on the wire, shared by the three HTTP protocols (ours, v2, tfserving) and the stand-in.

import {BackendError} from './backend.ts';

/**
 * Rows as JSON text without the outer brackets: nested (`[1,2],[3,4]`: our `vectors`, TF Serving's
 * `instances`) or flat in row-major order (`1,2,3,4`: the Open Inference Protocol's `data`). The
 * same text as JSON.stringify writes: a row is written with join(), which prints a finite number
 * exactly as JSON does, about 4× faster than copying every row into an array for JSON.stringify;
 * a row with NaN or an infinity (which JSON writes as null) takes the slow way.
 */
export function jsonRows(rows: readonly Float64Array[], nested: boolean): string {
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    let row = rows[i].join(',');
    if (row.includes('N') || row.includes('I')) row = JSON.stringify(Array.from(rows[i])).slice(1, -1);
    const item = nested ? `[${row}]` : row;
    if (item !== '') text += text === '' ? item : `,${item}`;
  }
  return text;
}

/**
 * A reply body as JSON, or `backend_bad_response` naming `what`. TF Serving writes a non-finite
 * float as the bare tokens `NaN`, `Infinity` and `-Infinity` ("JSON conformance" in its REST API
 * page), which JSON.parse refuses: those are read as null, a non-finite value that fails its row
 * only, never the whole reply.
 */
export function parseJsonReply(body: Buffer | string, what: string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    if (text.includes('NaN') || text.includes('Infinity')) {
      try {
        return JSON.parse(nonFiniteAsNull(text));
      } catch {}
    }
    throw new BackendError('backend_bad_response', `${what} is not JSON`);
  }
}

/** The text with every NaN, Infinity, -Infinity or +Infinity token outside a string replaced by null. */
export function nonFiniteAsNull(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const token = c === 0x4e && text.startsWith('NaN', i) ? 3 : c === 0x49 && text.startsWith('Infinity', i) ? 8 : 0;
    if (token === 0) continue;
    const sign = i > last && (text[i - 1] === '-' || text[i - 1] === '+') ? 1 : 0;
    out += `${text.slice(last, i - sign)}null`;
    i += token - 1;
    last = i + 1;
  }
  return out + text.slice(last);
}

export const jsonHeaders: Readonly<Record<string, string>> = Object.freeze({'content-type': 'application/json'});
