// How the HTTP client (http-client.ts) isolates the rows a backend refused (a 4xx other than 429),
// per batch of n rows: split in halves, recursively, until the refused rows are alone.
//
// - One refused row costs 1 + 2·⌈log2 n⌉ calls.
// - While every call of the batch is refused, at most 1 + 4·⌈log2 n⌉ calls (`isolationBudget`),
//   so a server refusing every row (a 4xx about the whole request) costs about 4·log2(n) calls,
//   not 2n: halving while it has made fewer than 1 + 2·⌈log2 n⌉ calls, then 2·⌈log2 n⌉ single
//   rows picked at random among those not known to be refused, sent at once (`probes`). If those
//   are refused too, the rows not isolated yet are refused together. A part refused past the
//   halving's share waits for the calls in flight (and the probes) before it decides.
// - Once any call is accepted the server is not refusing everything: isolation goes on to single
//   rows, at most 2n − 1 + 2·⌈log2 n⌉ calls in all.
// - So another client's rows can make a row fail only if every call was refused: the halving's
//   last 1 + ⌈log2 n⌉ parts each held a refused row (so at least that many refused rows; the rows
//   are shuffled before the first split, so that none can be placed) and every probe hit one. A
//   client with half of a batch of 64 rows: odds below C(32,12)/C(64,12) ≈ 7·10⁻⁵ a batch.

/**
 * One batch's isolation of refused rows: `total` calls while every call is refused, of which
 * `left` are not made yet; whether any call was accepted; the calls in flight; the branches
 * waiting to know whether one was, before they refuse their rows together; and the order in
 * which the rows are split (`order[position]` is a row of the batch), shuffled once the whole
 * batch is refused, so that no client can choose where its rows fall among the halves.
 */
export interface Isolation {
  readonly order: number[];
  readonly total: number;
  /** Of the total, the single rows sent once the halving's share is spent with every call refused. */
  readonly probes: number;
  /** Those calls, once started: every part refused past the halving's share waits on them. */
  probing?: Promise<void>;
  left: number;
  accepted: boolean;
  inFlight: number;
  readonly waiting: (() => void)[];
}

/**
 * The calls one batch of `rows` may cost while the server refuses every one of them:
 * 1 + 4·⌈log2 rows⌉. Isolating one refused row by halves takes 1 + 2·⌈log2 rows⌉; a refusal of
 * every row (a 4xx about the whole request that the protocol cannot tell apart) stops there
 * instead of costing about 2·rows calls. Once any call is accepted the server is not refusing
 * everything, and isolation goes on to single rows (at most 2·rows − 1 calls).
 */
export function isolationBudget(rows: number): number {
  return 1 + 4 * Math.ceil(Math.log2(Math.max(1, rows)));
}

/** A batch of `rows` rows' isolation, before its first call: the rows in order, the budget whole. */
export function newIsolation(rows: number): Isolation {
  const total = isolationBudget(rows);
  const probes = 2 * Math.ceil(Math.log2(Math.max(1, rows)));
  const order = Array.from({length: rows}, (_, i) => i);
  return {order, total, probes, left: total - 1 - probes, accepted: false, inFlight: 0, waiting: []};
}

/** Shuffles `list` in place (Fisher–Yates). */
export function shuffle(list: number[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
}

/** Wakes the parts waiting on `iso` once a call was accepted or none is in flight (they decide again). */
export function wake(iso: Isolation): void {
  if (!iso.accepted && iso.inFlight > 0) return;
  for (const resolve of iso.waiting.splice(0)) resolve();
}
