// The simulated network's exact output (DESIGN §4), so that anyone can check that every row
// went back to the right agent of the right client:
//
//   bias(model, agent_type) = fnv1a32(utf8(model + "\n" + agent_type)) / 2^32
//   prediction(x)           = bias + Σ_{i=0}^{n-1} (i + 1) · x_i   (float64, summed in index order)
//
// The sum is accumulated from 0 in index order and the bias added last.

const encoder = new TextEncoder();

export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

export function bias(model: string, agentType: string): number {
  return fnv1a32(encoder.encode(`${model}\n${agentType}`)) / 2 ** 32;
}

/** prediction of one row; `row` may be a view into a larger buffer. */
export function predictRow(b: number, row: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += (i + 1) * row[i];
  return b + sum;
}

export function predictMatrix(model: string, agentType: string, rows: readonly ArrayLike<number>[]): number[] {
  const b = bias(model, agentType);
  return rows.map((row) => predictRow(b, row));
}
