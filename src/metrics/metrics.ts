// Prometheus metrics (prom-client), all in the main thread's registry. Worker threads report each
// backend call in their ResultsMessage (size, backend time, result, per-row queue waits), so
// nothing measured in a thread is lost; mailbox depth and in-flight calls are asked of the threads
// at scrape time.
//
// A scrape stays cheap whatever clients do: per-key series exist for at most METRICS_MAX_KEYS keys
// at once (the first keys seen among those alive); every other key is summed under
// agent_type="_other", model="_other", which only ever grows, so counters stay monotone. A retired
// key's series are removed and its place goes to the next new key. Label values come only from
// validated names.

import client from 'prom-client';
import {Histogram, Tally} from './series.ts';
import type {AgentErrorCode} from '../errors.ts';
import {agentErrorCodes} from '../errors.ts';
import type {RefusalReason} from '../coordinator/admission.ts';
import type {CoordinatorObserver} from '../coordinator/api.ts';
import {routeLabel} from '../http/routes.ts';
import {parseKey} from '../protocol/mailbox-key.ts';
import type {BatchReport, HostStats} from '../protocol/messages.ts';
import {CostBook} from '../../workers/cost-model.ts';
import type {CostFit} from '../../workers/cost-model.ts';
import type {CostView} from '../registry.ts';

/** Keys whose cost fit the main thread keeps (least recently fed forgotten first). */
const costKeys = 1024;

export interface MetricsSources {
  /** Per-thread mailbox stats, asked at scrape time. */
  hostStats(): Promise<readonly HostStats[]>;
  restarts(): number;
  openRequests(): number;
  /** ROLE=gateway: cluster frames (and results) refused so far, by reason (src/cluster/wire.ts). */
  clusterRefusals?(): ReadonlyMap<string, number>;
}

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

  /** Keys with their own series, and their label values. */
  readonly #labelled = new Map<string, KeyLabels>();
  readonly #maxKeys: number;

  constructor(sources: MetricsSources, options: {maxBatchSize: number; maxKeys: number}) {
    this.#maxKeys = options.maxKeys;
    const registers = [this.registry];
    const labelsFor = (key: string) => this.#labelsOf(key);
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
    new client.Counter({
      name: 'agent_batcher_worker_restarts_total',
      help: 'Actor threads restarted after dying',
      registers,
      collect() {
        this.reset();
        this.inc(sources.restarts());
      },
    });
    if (sources.clusterRefusals) {
      const refusals = sources.clusterRefusals;
      new client.Counter({
        name: 'agent_batcher_cluster_refused_total',
        help: 'Cluster frames refused before any handler read them (unsigned, bad_signature, stale, replayed, …), and results for parts sent to another member (wrong_member), by reason',
        labelNames: ['reason'] as const,
        registers,
        collect() {
          this.reset();
          for (const [reason, count] of refusals()) this.inc({reason}, count);
        },
      });
    }
    new client.Gauge({
      name: 'agent_batcher_open_requests',
      help: 'Client requests waiting for their answer',
      registers,
      collect() {
        this.set(sources.openRequests());
      },
    });
    const depth = new client.Gauge({
      name: 'agent_batcher_mailbox_depth',
      help: 'Rows waiting in a mailbox',
      labelNames: keyLabels,
      registers,
    });
    const inflight = new client.Gauge({
      name: 'agent_batcher_inflight_batches',
      help: 'Backend calls in flight per key',
      labelNames: keyLabels,
      registers,
    });
    new client.Gauge({
      name: 'agent_batcher_mailboxes',
      help: 'Mailboxes (actors) alive in the threads',
      registers,
      async collect() {
        const hosts = await sources.hostStats().catch(() => []);
        depth.reset();
        inflight.reset();
        let actors = 0;
        for (const host of hosts) {
          actors += host.actors;
          for (const k of host.keys) {
            const labels = labelsFor(k.key);
            depth.inc(labels, k.pending);
            inflight.inc(labels, k.inflight);
          }
        }
        this.set(actors);
      },
    });
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
    const labels = this.#labelsOf(report.key);
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
      const name = parseKey(key);
      if (name.model !== model) continue;
      const round = (ms: number) => Math.round(ms * 1000) / 1000;
      views.push({
        agent_type: name.agentType,
        fixed_ms: round(fit.fixedMs),
        per_row_ms: round(fit.perRowMs),
        calls: Math.round(fit.calls),
      });
    }
    return views;
  }

  keyRetired(key: string): void {
    const labels = this.#labelled.get(key);
    if (!labels) return; // counted under _other, which stays
    this.#labelled.delete(key);
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

  /** The key's own labels while it has a place among METRICS_MAX_KEYS, else `_other`. */
  #labelsOf(key: string): KeyLabels {
    let labels = this.#labelled.get(key);
    if (labels) return labels;
    if (this.#labelled.size >= this.#maxKeys) return otherKeys;
    const {agentType, model} = parseKey(key);
    labels = {agent_type: agentType, model};
    this.#labelled.set(key, labels);
    return labels;
  }
}

interface KeyLabels {
  readonly agent_type: string;
  readonly model: string;
}

/** Every key past METRICS_MAX_KEYS is summed here ('_' cannot start a valid name). */
const otherKeys: KeyLabels = {agent_type: '_other', model: '_other'};

function sizeBuckets(max: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < max; b *= 2) buckets.push(b);
  buckets.push(max);
  return buckets;
}
