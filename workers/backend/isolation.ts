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

import {countProblem} from '../reply-check.ts';
import {BackendError} from './backend.ts';
import type {BackendCall, BackendReply} from './backend.ts';
import type {Exchange, Exchanger, WireProtocol} from './wire-protocol.ts';

/**
 * The calls one batch of `rows` may cost while the server refuses every one of them:
 * 1 + 4·⌈log2 rows⌉, of which 2·⌈log2 rows⌉ single rows picked at random.
 */
export function isolationBudget(rows: number): number {
  return 1 + 4 * Math.ceil(Math.log2(Math.max(1, rows)));
}

/** One batch's values, its refused rows isolated (`backend_rejected`), through `client`'s calls. */
export function isolate(call: BackendCall, protocol: WireProtocol, client: Exchanger): Promise<BackendReply> {
  return new Isolation(call, protocol, client).run();
}

/**
 * One batch's isolation of refused rows: `total` calls while every call is refused, of which
 * `left` halving calls are not made yet (the `probes` come on top); whether any call was
 * accepted; the calls in flight; the parts waiting to know whether one was, before they refuse
 * their rows together; and the order in which the rows are split (`order[position]` is a row of
 * the batch), shuffled once the whole batch is refused, so that no client can choose where its
 * rows fall among the halves.
 */
class Isolation {
  readonly #call: BackendCall;
  readonly #protocol: WireProtocol;
  readonly #client: Exchanger;
  readonly #values: unknown[];
  readonly #rejected = new Map<number, string>();
  readonly #order: number[];
  readonly #total: number;
  readonly #probes: number;
  #left: number;
  #accepted = false;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  #probing: Promise<void> | undefined;

  constructor(call: BackendCall, protocol: WireProtocol, client: Exchanger) {
    const n = call.rows.length;
    this.#call = call;
    this.#protocol = protocol;
    this.#client = client;
    this.#values = new Array<unknown>(n);
    this.#order = Array.from({length: n}, (_, i) => i);
    this.#total = isolationBudget(n);
    this.#probes = 2 * Math.ceil(Math.log2(Math.max(1, n)));
    this.#left = this.#total - 1 - this.#probes;
  }

  async run(): Promise<BackendReply> {
    await this.#solve(0, this.#call.rows.length);
    const values = this.#values;
    if (this.#rejected.size === 0) return {values};
    return {values, rejected: new Map([...this.#rejected].sort((a, b) => a[0] - b[0]))};
  }

  /**
   * Predicts the rows at positions [from, to) of the order: whole if the backend accepts them,
   * else by halves (the whole batch's rows shuffled first). While every call so far was refused,
   * a split takes two of the halving's calls; a part refused with them spent waits for the calls
   * in flight, then for the probes: if one of them is accepted it splits on, if none is its rows
   * are refused together.
   */
  async #solve(from: number, to: number): Promise<void> {
    const call = this.#call;
    const order = this.#order;
    const whole = from === 0 && to === call.rows.length;
    const id = whole ? (call.batchId ?? 'batch') : `${call.batchId ?? 'batch'}:${from}-${to}`;
    const rows = whole ? call.rows : order.slice(from, to).map((row) => call.rows[row]);
    this.#inFlight++;
    let outcome: Exchange;
    try {
      outcome = await this.#client.exchange(this.#protocol.encode(call, rows, id), call.deadline);
    } catch (error) {
      this.#inFlight--;
      this.#wake();
      throw error;
    }
    this.#inFlight--;
    if (outcome.kind === 'ok') this.#accepted = true;
    this.#wake();
    if (outcome.kind === 'ok') {
      const got = this.#protocol.decode(outcome.reply, call, to - from, id);
      const wrongCount = countProblem(got.length, to - from);
      if (wrongCount) throw new BackendError('backend_bad_response', wrongCount);
      for (let i = 0; i < got.length; i++) this.#values[order[from + i]] = got[i];
      return;
    }
    const batchFailure = this.#protocol.wholeBatch?.(outcome, call);
    if (batchFailure) throw batchFailure;
    if (to - from === 1) {
      this.#rejected.set(order[from], `backend refused this row (HTTP ${outcome.status})`);
      return;
    }
    const stuck = () => !this.#accepted && this.#left < 2;
    while (stuck() && this.#inFlight > 0) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    // Every call so far refused: single rows picked at random say whether the server refuses everything.
    if (stuck()) await (this.#probing ??= this.#probe());
    if (stuck()) {
      const why = `backend refused this row's part of the batch (HTTP ${outcome.status}), as it refused every call of the batch (${this.#probes} single rows picked at random too); not isolated further: the batch's ${this.#total} calls are spent`;
      for (let at = from; at < to; at++) this.#rejected.set(order[at], why);
      return;
    }
    if (!this.#accepted) this.#left -= 2;
    if (whole) shuffle(order);
    const mid = from + Math.ceil((to - from) / 2);
    await Promise.all([this.#solve(from, mid), this.#solve(mid, to)]);
  }

  /** Up to `probes` rows not known to be refused, picked at random, each sent alone (at once). */
  async #probe(): Promise<void> {
    const open: number[] = [];
    for (let at = 0; at < this.#order.length; at++) if (!this.#rejected.has(this.#order[at])) open.push(at);
    shuffle(open);
    await Promise.all(open.slice(0, this.#probes).map((at) => this.#solve(at, at + 1)));
  }

  /** Wakes the parts waiting once a call was accepted or none is in flight (they decide again). */
  #wake(): void {
    if (!this.#accepted && this.#inFlight > 0) return;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** Shuffles `list` in place (Fisher–Yates). */
function shuffle(list: number[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
}
