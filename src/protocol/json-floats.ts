// Floats as JSON text, the same for the HTTP backends' clients (workers/backend/) and the stand-in
// (src/simulator/), which is why it lives below both: rows written exactly as JSON.stringify
// writes them, fast, and the bare NaN / Infinity tokens TF Serving writes read as null.

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
