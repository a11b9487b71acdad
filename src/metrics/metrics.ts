// Prometheus metrics (prom-client), all in the main thread's registry: what the coordinator and the
// front end tell as it happens (CoordinatorObserver, HttpMetrics), and each key's fitted backend
// cost. Worker threads report each backend call in their ResultsMessage (size, backend time,
// result, per-row queue waits), so nothing measured in a thread is lost; what is asked for at
// scrape time is scraped.ts. A scrape stays cheap whatever clients do: per-key series are capped
// (key-labels.ts), and a retired key's series are removed.

import client from 'prom-client';
import {Histogram, Tally} from './series.ts';
import type {AgentErrorCode} from '../errors.ts';
import {agentErrorCodes} from '../errors.ts';
import type {RefusalReason} from '../coordinator/admission.ts';
import type {CoordinatorObserver} from '../coordinator/api.ts';
import {routeLabel} from '../http/routes.ts';
import {parseKey} from '../protocol/mailbox-key.ts';
import {KeyLabelTable, otherKeys} from './key-labels.ts';
import type {KeyLabels} from './key-labels.ts';
import {registerScraped} from './scraped.ts';
import type {MetricsSources} from './scraped.ts';
import type {BatchReport} from '../protocol/messages.ts';
import {CostBook} from '../../workers/cost-model.ts';
import type {CostFit} from '../../workers/cost-model.ts';
import type {CostView} from '../registry.ts';

/** Keys whose cost fit the main thread keeps (least recently fed forgotten first). */
const costKeys = 1024;

const batchResults = ['ok', 'partial', ...agentErrorCodes] as const;
const standardMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

export class Metrics implements CoordinatorObserver {
  readonly registry = new client.Registry();
  readonly #requests;
  readonly #agents;
  readonly #batchSize;
  readonly #queueWait;
  readonly #backendLatency;
  readonly #backendCalls;
  readonly #withdrawals;
  readonly #refused;
  readonly #window;
  readonly #costFixed;
  readonly #costPerRow;
  /** Each key's backend cost, fitted from its calls' reports (DESIGN §11); GET /models shows it too. */
  readonly costs = new CostBook(costKeys);

  /** Each key's label values, for at most METRICS_MAX_KEYS keys at once (key-labels.ts). */
  readonly #keyLabels: KeyLabelTable;

  constructor(sources: MetricsSources, options: {maxBatchSize: number; maxKeys: number}) {
    this.#keyLabels = new KeyLabelTable(options.maxKeys);
    const registers = [this.registry];
    const labelsOf = (key: string) => this.#keyLabels.labelsOf(key);
    const keyLabels = ['agent_type', 'model'] as const;
    client.collectDefaultMetrics({register: this.registry, eventLoopMonitoringPrecision: 10});

    // Per request, per agent and per row: counted outside prom-client (series.ts).
    this.#requests = new Tally({
      name: 'agent_batcher_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.#agents = new Tally({
      name: 'agent_batcher_agents_total',
      help: 'Agents answered, by outcome: prediction or the error code',
      labelNames: ['outcome'],
      registers,
    });
    this.#batchSize = new Histogram<KeyLabels>({
      name: 'agent_batcher_batch_size',
      help: 'Rows per backend call',
      buckets: sizeBuckets(options.maxBatchSize),
      registers,
    });
    this.#queueWait = new Histogram<KeyLabels>({
      name: 'agent_batcher_queue_wait_seconds',
      help: 'Time from arrival in the mailbox to dispatch to the backend, per row',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#backendLatency = new Histogram<KeyLabels>({
      name: 'agent_batcher_backend_latency_seconds',
      help: 'Backend call latency (retries included)',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 30],
      registers,
    });
    this.#backendCalls = new client.Counter({
      name: 'agent_batcher_backend_calls_total',
      help: 'Backend calls (one per batch) by result: ok, partial (some rows refused) or the error code',
      labelNames: [...keyLabels, 'result'] as const,
      registers,
    });
    this.#withdrawals = new client.Counter({
      name: 'agent_batcher_withdrawals_total',
      help: 'Rows taken out of a mailbox unsent (client gone or deadline passed)',
      registers,
    });
    this.#refused = new client.Counter({
      name: 'agent_batcher_admissions_refused_total',
      help: 'Requests refused whole by admission control, by reason',
      labelNames: ['reason'] as const,
      registers,
    });
    this.#window = new client.Gauge({
      name: 'agent_batcher_batch_window_seconds',
      help: "A key's batch window after its last backend call (fixed MAX_WAIT_MS, or adaptive with auto)",
      labelNames: keyLabels,
      registers,
    });
    this.#costFixed = new client.Gauge({
      name: 'agent_batcher_backend_cost_fixed_seconds',
      help: "A key's fitted backend cost per call, whatever its size: latency ≈ fixed + per_row × rows",
      labelNames: keyLabels,
      registers,
    });
    this.#costPerRow = new client.Gauge({
      name: 'agent_batcher_backend_cost_per_row_seconds',
      help: "A key's fitted backend cost per row of a call: latency ≈ fixed + per_row × rows",
      labelNames: keyLabels,
      registers,
    });
    registerScraped(this.registry, sources, labelsOf);
  }

  request(path: string, method: string, status: number): void {
    const route = routeLabel(path);
    // Methods are any token a client sends: only the standard ones get their own series.
    const verb = standardMethods.has(method) ? method : 'other';
    this.#requests.add(`${route} ${verb} ${status}`, () => ({route, method: verb, status: String(status)}));
  }

  outcome(outcome: 'prediction' | AgentErrorCode | 'client_gone'): void {
    this.#agents.add(outcome, () => ({outcome}));
  }

  refused(reason: RefusalReason): void {
    this.#refused.inc({reason});
  }

  withdrawn(): void {
    this.#withdrawals.inc();
  }

  batch(report: BatchReport): void {
    const labels = this.#keyLabels.labelsOf(report.key);
    this.#batchSize.observe(labels, report.size);
    this.#backendLatency.observe(labels, report.backendMs / 1000);
    this.#backendCalls.inc({...labels, result: report.result});
    this.#window.set(labels, report.windowMs / 1000);
    for (const wait of report.waitsMs) this.#queueWait.observe(labels, wait / 1000);
    // The same rule as the actor's own fit: only calls that came back with an answer say what a call costs.
    if (report.result === 'ok' || report.result === 'partial') {
      const cost = this.costs.get(report.key);
      cost.observe(report.size, report.backendMs);
      const fit = cost.fit as CostFit;
      if (labels !== otherKeys) {
        this.#costFixed.set(labels, fit.fixedMs / 1000);
        this.#costPerRow.set(labels, fit.perRowMs / 1000);
      }
    }
  }

  /** The fitted cost of every key of `model` that has had a call (GET /models). */
  costsOf(model: string): CostView[] {
    const views: CostView[] = [];
    for (const [key, fit] of this.costs.fits()) {
      const pair = parseKey(key);
      if (pair.model !== model) continue;
      const round = (ms: number) => Math.round(ms * 1000) / 1000;
      views.push({
        agent_type: pair.agentType,
        fixed_ms: round(fit.fixedMs),
        per_row_ms: round(fit.perRowMs),
        calls: Math.round(fit.calls),
      });
    }
    return views;
  }

  keyRetired(key: string): void {
    const labels = this.#keyLabels.forget(key);
    if (!labels) return; // counted under _other, which stays
    this.#batchSize.remove(labels);
    this.#queueWait.remove(labels);
    this.#backendLatency.remove(labels);
    this.#window.remove(labels);
    this.#costFixed.remove(labels);
    this.#costPerRow.remove(labels);
    for (const result of batchResults) this.#backendCalls.remove({...labels, result});
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function sizeBuckets(max: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < max; b *= 2) buckets.push(b);
  buckets.push(max);
  return buckets;
}
