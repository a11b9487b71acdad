// A key's backend cost as a function of its batch (DESIGN §11): latency ≈ fixed + per_row × rows,
// fitted from the key's own calls. Pure: the caller feeds it (rows, ms) of each call that reached
// the backend and came back with an answer; no clock, no timers.
//
// - Bounded memory, old calls forgotten: an exponentially weighted least-squares fit keeps five
//   sums, each decayed by `decay` per call (the last ~1/(1-decay) calls count; 50 by default).
// - Robust to a backend whose cost does not grow with the batch (the simulated one, 3–7 s for
//   1 row or 32): the slope is clamped at 0, and while the calls' batch sizes barely vary the slope
//   cannot be told apart from noise, so the fit is flat (fixed = mean latency, per_row = 0). That
//   errs optimistic on purpose: a flat fit lets a larger batch be tried and then measured, while a
//   pessimistic one (all cost per row) would keep batches small and never learn otherwise.
// - One slow call (a GC pause, a noisy neighbour) cannot swing the fit: a call's latency is
//   capped at `outlier` × the fit's prediction before it is folded in, once the fit has
//   `warmCalls` calls behind it.

export interface CostFit {
  readonly fixedMs: number;
  readonly perRowMs: number;
  /** Effective number of calls behind the fit (decayed weight). */
  readonly calls: number;
}

export interface CostModelOptions {
  /** Weight kept by the older calls at each new call. */
  readonly decay: number;
  /** Batch sizes must vary at least this much (weighted variance, rows²) for a slope to be fitted. */
  readonly minVariance: number;
  readonly outlier: number;
  readonly warmCalls: number;
}

export const defaultCostOptions: CostModelOptions = {decay: 0.98, minVariance: 0.5, outlier: 4, warmCalls: 8};

export class CostModel {
  readonly #options: CostModelOptions;
  #w = 0;
  #x = 0;
  #y = 0;
  #xx = 0;
  #xy = 0;
  #fit: CostFit | undefined;

  constructor(options: CostModelOptions = defaultCostOptions) {
    this.#options = options;
  }

  /** Folds one call of `rows` rows that took `ms` into the fit. */
  observe(rows: number, ms: number): void {
    if (!(rows >= 1) || !Number.isFinite(ms) || ms < 0) return;
    const {decay, outlier, warmCalls} = this.#options;
    const fit = this.#fit;
    const y = fit && fit.calls >= warmCalls ? Math.min(ms, outlier * Math.max(predictWith(fit, rows), 0.01)) : ms;
    this.#w = this.#w * decay + 1;
    this.#x = this.#x * decay + rows;
    this.#y = this.#y * decay + y;
    this.#xx = this.#xx * decay + rows * rows;
    this.#xy = this.#xy * decay + rows * y;
    this.#fit = this.#solve();
  }

  /** The fit now, or undefined before any call. */
  get fit(): CostFit | undefined {
    return this.#fit;
  }

  /** Predicted ms of a call of `rows` rows, or undefined before any call. */
  predict(rows: number): number | undefined {
    return this.#fit ? predictWith(this.#fit, rows) : undefined;
  }

  #solve(): CostFit {
    const w = this.#w;
    const meanX = this.#x / w;
    const meanY = this.#y / w;
    const varX = this.#xx / w - meanX * meanX;
    const flat = {fixedMs: meanY, perRowMs: 0, calls: w};
    if (varX < this.#options.minVariance) return flat;
    const slope = (this.#xy / w - meanX * meanY) / varX;
    if (!(slope > 0)) return flat;
    const fixed = meanY - slope * meanX;
    // A negative intercept is noise around a cost that is nearly all per row: keep the line through the mean.
    if (fixed < 0) return {fixedMs: 0, perRowMs: meanY / meanX, calls: w};
    return {fixedMs: fixed, perRowMs: slope, calls: w};
  }
}

export function predictWith(fit: CostFit, rows: number): number {
  return fit.fixedMs + fit.perRowMs * rows;
}

/**
 * Cost models by key, at most `max` of them (least recently fed forgotten first): the actor thread
 * keeps a key's model across its actor's retirement, the main thread one per key it hears of.
 */
export class CostBook {
  readonly #max: number;
  readonly #models = new Map<string, CostModel>();

  constructor(max = 4096) {
    this.#max = max;
  }

  /** The key's model, created if new, and marked as recently used. */
  get(key: string): CostModel {
    let model = this.#models.get(key);
    if (model) this.#models.delete(key);
    else model = new CostModel();
    this.#models.set(key, model);
    if (this.#models.size > this.#max) this.#models.delete(this.#models.keys().next().value as string);
    return model;
  }

  observe(key: string, rows: number, ms: number): void {
    this.get(key).observe(rows, ms);
  }

  /** Every key's fit (keys without a call yet are left out). */
  *fits(): IterableIterator<[string, CostFit]> {
    for (const [key, model] of this.#models) if (model.fit) yield [key, model.fit];
  }
}
