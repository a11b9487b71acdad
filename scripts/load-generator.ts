// The load generator of the benchmarks and of `npm run load`: undici, closed loop (a fixed number
// of clients, each sending its next request when the last is answered) or open loop (a fixed
// rate). It keeps every request's latency, checks a sample of the predictions against the
// formula, and tallies the batches the clients saw.
//
// Each request takes a connection of its own from a free list (one undici Client per connection,
// at most `clients` of them per front end). Not undici's Pool: it looks for a free connection by
// walking all of them, twice per request, which at 10,000 connections made the load generator
// itself the bottleneck whenever answers came back in a burst.

import {Client} from 'undici';
import {bias, predictRow} from '../src/simulator/formula.ts';
import type {RequestPlan} from './load-plan.ts';

export interface LoadOptions {
  /** One front end, or several (comma-separated): requests go round-robin over them. */
  readonly url: string;
  readonly durationMs: number;
  /** Closed loop: clients sending back to back. */
  readonly clients?: number;
  /** Open loop: requests per second (clients then caps the requests in flight). */
  readonly rate?: number;
  readonly plan: (seq: number) => RequestPlan;
  readonly headers?: Record<string, string>;
  /** Check every n-th answer against the formula (0 = never). */
  readonly checkEvery?: number;
  readonly label?: string;
  /** A live line on stderr (default: when stderr is a terminal). */
  readonly progress?: boolean;
  /** Keep per-request latency and markers (for added latency). */
  readonly keepRequests?: boolean;
}

export interface LoadResult {
  readonly label: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly agents: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  /** The first error seen of each status (or agent error code): its body, cut to 300 characters. */
  readonly firstErrors: Record<string, string>;
  /** Sorted, ms. */
  readonly latencies: Float64Array;
  readonly batches: Map<string, number>;
  /** Batches that carried rows of requests sent to more than one of the URLs. */
  readonly sharedAcrossUrls: number;
  readonly wrongPredictions: number;
  /** Open loop: requests of the schedule not sent because `clients` were already in flight. */
  readonly notSent: number;
  /**
   * Per request, when kept: its latency, its agents' markers, when it started (ms into the run)
   * and, from a server that holds requests itself, the backend delay it drew (`x-held-ms`).
   */
  readonly kept: {latencyMs: number; markers: readonly number[]; startMs: number; heldMs?: number}[];
}

/** One front end's connections: an idle one is reused, else a new one opened (O(1) either way). */
class Connections {
  readonly #url: string;
  readonly #idle: Client[] = [];
  readonly #all = new Set<Client>();

  constructor(url: string) {
    this.#url = url;
  }

  take(): Client {
    const idle = this.#idle.pop();
    if (idle) return idle;
    const client = new Client(this.#url, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    this.#all.add(client);
    return client;
  }

  give(client: Client): void {
    this.#idle.push(client);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#all].map((c) => c.close()));
  }
}

export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const clients = options.clients ?? 64;
  const urls = options.url.split(',').map((u) => u.trim().replace(/\/$/, ''));
  const fronts = urls.map((url) => new Connections(url));
  /** Batch id -> bit set of the URLs whose requests it carried. */
  const batchUrls = new Map<string, number>();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const firstErrors: Record<string, string> = {};
  const batches = new Map<string, number>();
  const kept: LoadResult['kept'] = [];
  let requests = 0;
  let agents = 0;
  let errors = 0;
  let wrong = 0;
  let seq = 0;
  let notSent = 0;
  const started = performance.now();
  const end = started + options.durationMs;
  const label = options.label ?? options.url;

  const one = async () => {
    const mine = seq++;
    const front = mine % urls.length;
    const connections = fronts[front];
    const plan = options.plan(mine);
    const body = JSON.stringify({agents: plan.agents});
    const t0 = performance.now();
    let status = 0;
    let text = '';
    let held: string | string[] | undefined;
    const connection = connections.take();
    try {
      const response = await connection.request({
        path: '/predict',
        method: 'POST',
        headers: {'content-type': 'application/json', ...options.headers},
        body,
      });
      status = response.statusCode;
      held = response.headers['x-held-ms'];
      text = await response.body.text();
    } catch (error) {
      statuses[(error as {code?: string}).code ?? 'transport'] =
        (statuses[(error as {code?: string}).code ?? 'transport'] ?? 0) + 1;
      errors++;
      return;
    } finally {
      connections.give(connection);
    }
    const latency = performance.now() - t0;
    statuses[status] = (statuses[status] ?? 0) + 1;
    requests++;
    latencies.push(latency);
    const ids = Object.keys(plan.agents);
    agents += ids.length;
    if (status !== 200) {
      errors++;
      firstErrors[status] ??= text.slice(0, 300);
      return;
    }
    const reply = JSON.parse(text) as {
      errors: boolean;
      results: Record<string, {prediction?: number; batch?: {id: string; size: number}; error?: {code: string}}>;
    };
    if (reply.errors) {
      errors++;
      const failed = Object.values(reply.results).find((r) => r.error);
      if (failed?.error) firstErrors[`200 with ${failed.error.code}`] ??= JSON.stringify(failed.error).slice(0, 300);
    }
    for (const id of ids) {
      const batch = reply.results[id]?.batch;
      if (batch) {
        batches.set(batch.id, batch.size);
        if (urls.length > 1) batchUrls.set(batch.id, (batchUrls.get(batch.id) ?? 0) | (1 << front));
      }
    }
    if (options.checkEvery && mine % options.checkEvery === 0) {
      for (const id of ids) {
        const a = plan.agents[id];
        if (reply.results[id]?.prediction !== predictRow(bias(a.model, a.agent_type), a.vector)) wrong++;
      }
    }
    if (options.keepRequests)
      kept.push({
        latencyMs: latency,
        markers: plan.markers ?? [],
        startMs: t0 - started,
        ...(typeof held === 'string' && {heldMs: Number(held)}),
      });
  };

  let ticker: NodeJS.Timeout | undefined;
  const progress = options.progress ?? process.stderr.isTTY;
  if (progress) {
    let last = 0;
    ticker = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const rate = requests - last;
      last = requests;
      process.stderr.write(
        `\r  ${label.padEnd(34)} ${elapsed.toFixed(0).padStart(4)} s  ${String(rate).padStart(7)} req/s  ${String(requests).padStart(8)} done  ${errors} errors   `,
      );
    }, 1000);
  }

  if (options.rate) {
    // Open loop: start requests on a schedule, at most `clients` in flight.
    const interval = 1000 / options.rate;
    let inflight = 0;
    const pending = new Set<Promise<void>>();
    let next = started;
    while (performance.now() < end) {
      const now = performance.now();
      while (next <= now && inflight < clients) {
        inflight++;
        const p = one().finally(() => {
          inflight--;
          pending.delete(p);
        });
        pending.add(p);
        next += interval;
      }
      if (next <= now) {
        // Saturated (the cap is full): what the schedule wanted is not sent, and no backlog builds.
        notSent += (now - next) / interval;
        next = now;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(5, next - performance.now()))));
    }
    await Promise.all(pending);
  } else {
    await Promise.all(
      Array.from({length: clients}, async () => {
        while (performance.now() < end) await one();
      }),
    );
  }
  clearInterval(ticker);
  if (progress) process.stderr.write('\n');
  const durationMs = performance.now() - started;
  await Promise.all(fronts.map((c) => c.close()));
  const sorted = Float64Array.from(latencies).sort();
  let sharedAcrossUrls = 0;
  for (const bits of batchUrls.values()) if (bits & (bits - 1)) sharedAcrossUrls++;
  return {
    label,
    durationMs,
    requests,
    agents,
    errors,
    statuses,
    firstErrors,
    latencies: sorted,
    batches,
    sharedAcrossUrls,
    wrongPredictions: wrong,
    notSent: Math.round(notSent),
    kept,
  };
}
