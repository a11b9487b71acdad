// The series updated on the hot path (per request, per agent, per row), counted in plain maps and
// arrays and handed to prom-client's registry only when it is scraped. prom-client's own inc() and
// observe() hash and validate the label object on every call; here a series is found by a string
// id or by its (interned) label object, and the registry renders the same text as for its own.

import client from 'prom-client';

type Labels = Record<string, string>;

/** A counter by label set: `add` per event, prom-client gets the totals at scrape time. */
export class Tally {
  readonly #counts = new Map<string, {readonly labels: Labels; n: number}>();

  constructor(config: {name: string; help: string; labelNames: readonly string[]; registers: client.Registry[]}) {
    const counts = this.#counts;
    new client.Counter({
      ...config,
      collect() {
        this.reset();
        for (const {labels, n} of counts.values()) this.inc(labels, n);
      },
    });
  }

  /** One more under `id`; `labels` is called only the first time an id is seen. */
  add(id: string, labels: () => Labels): void {
    const entry = this.#counts.get(id);
    if (entry) entry.n++;
    else this.#counts.set(id, {labels: labels(), n: 1});
  }
}

interface Series {
  /** Per bucket (the last is +Inf), not cumulative. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram whose series are keyed by their label object itself (the caller interns one object
 * per label set), registered with prom-client's registry as a metric of its own.
 */
export class Histogram<L extends object> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #series = new Map<L, Series>();

  constructor(config: {name: string; help: string; buckets: readonly number[]; registers: client.Registry[]}) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    for (const registry of config.registers) registry.registerMetric(this as unknown as client.Metric);
  }

  observe(labels: L, value: number): void {
    let series = this.#series.get(labels);
    if (!series) {
      series = {counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0};
      this.#series.set(labels, series);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    series.counts[i]++;
    series.sum += value;
    series.count++;
  }

  remove(labels: L): void {
    this.#series.delete(labels);
  }

  reset(): void {
    this.#series.clear();
  }

  /** What the registry renders: cumulative buckets, then sum and count, per series. */
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: {labels: object; value: number; metricName: string}[];
  } {
    const values = [];
    for (const [labels, series] of this.#series) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += series.counts[i];
        const le = i < this.#bounds.length ? this.#bounds[i] : '+Inf';
        values.push({labels: {le, ...labels}, value: cumulative, metricName: `${this.name}_bucket`});
      }
      values.push({labels, value: series.sum, metricName: `${this.name}_sum`});
      values.push({labels, value: series.count, metricName: `${this.name}_count`});
    }
    return {name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values};
  }
}
