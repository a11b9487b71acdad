// The Koa app of the front end, composed: the front middleware (front.ts) in front of everything,
// POST /predict (predict.ts: gate.ts, body.ts, answer.ts) answered by it directly, and the other
// routes (health, readiness, metrics, models, the API description and its docs page) on
// @koa/router. Handlers throw HttpErrors; the front middleware turns every error into the
// contract's body and logs one line per request.

import Router from '@koa/router';
import Koa from 'koa';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import type {Submitter} from '../coordinator/api.ts';
import {describeRegistry} from '../registry.ts';
import type {CostView, Registry} from '../registry.ts';
import {bodyReader} from './body.ts';
import {docsAsset, docsPage} from './docs.ts';
import {EarlyRetries} from './early-retries.ts';
import {front, minDrainBytes} from './front.ts';
import type {RequestCounter, State} from './front.ts';
import {gate} from './gate.ts';
import type {Readiness} from './gate.ts';
import {heapGuard} from './heap-guard.ts';
import {openApiDocument} from './openapi.ts';
import {predict} from './predict.ts';
import {routes} from './routes.ts';
import {createSchemas} from './schemas.ts';

/** What the front end tells the metrics and serves of them (src/metrics/metrics.ts implements it). */
export interface HttpMetrics extends RequestCounter {
  /** A request refused at the gate: the heap is past MAX_HEAP_FRACTION. */
  refused(reason: 'heap_full'): void;
  /** The fitted cost of every key of `model` (GET /models). */
  costsOf(model: string): CostView[];
  /** GET /metrics: the Prometheus text and its content type. */
  text(): Promise<string>;
  readonly contentType: string;
}

export interface AppDeps {
  readonly config: Config;
  readonly coordinator: Submitter;
  readonly log: Logger;
  readonly metrics: HttpMetrics;
  readonly version: string;
  /** Read on every request: the service flips it while starting and draining. */
  readonly readiness: () => Readiness;
  /** Resolves when the service is no longer starting (ready, or draining first). */
  readonly started: () => Promise<void>;
  /** The model registry now (SIGHUP may replace it). */
  readonly registry: () => Registry;
}

export function createApp(deps: AppDeps): Koa<State> {
  const {config, coordinator, log, metrics} = deps;
  const schemas = createSchemas(config);
  const openapi = JSON.stringify(openApiDocument(schemas, {version: deps.version, secured: config.apiKeys.length > 0}));
  const app = new Koa<State>();
  app.proxy = false;
  // Errors are logged by our middleware; Koa's own handler would print them to stderr.
  app.silent = true;

  const predictRoute = predict({
    coordinator,
    schemas,
    config,
    registry: deps.registry,
    readiness: deps.readiness,
    started: deps.started,
    gate: gate(
      deps.readiness,
      config.apiKeys,
      heapGuard(config.maxHeapFraction),
      () => metrics.refused('heap_full'),
      config.maxBodyBytes,
    ),
    readBody: bodyReader(config.maxBodyBytes),
    earlyRetries: new EarlyRetries(),
  });
  // One middleware level in front of everything: request id, error shaping and the log line,
  // and POST /predict answered right here, so that a request waiting seconds for its backend
  // keeps one suspended handler alive, not a chain of them (koa-compose keeps a bound
  // dispatch and a frame per level awaiting next()).
  app.use(front(log, metrics, predictRoute, Math.max(config.maxBodyBytes, minDrainBytes)));

  const router = new Router<State>();
  router.get(routes.healthz, (ctx) => {
    ctx.body = {status: 'ok'};
  });
  router.get(routes.readyz, (ctx) => {
    const readiness = deps.readiness();
    ctx.status = readiness === 'ready' ? 200 : 503;
    ctx.body = {status: readiness};
  });
  router.get(routes.metrics, async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.text();
  });
  router.get(routes.openapi, (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openapi;
  });
  router.get(routes.models, (ctx) => {
    ctx.body = describeRegistry(deps.registry(), (model) => deps.metrics.costsOf(model));
  });
  router.get(routes.docs, docsPage);
  router.get(routes.docsAsset, docsAsset);
  // POST /predict is answered by the front middleware; registered here so that the router
  // answers its other methods with 405 and Allow.
  router.post(routes.predict, predictRoute);

  app.use(router.routes());
  // Sets 405 or 501 (with Allow) for a known path; errorShape gives those the contract's body.
  app.use(router.allowedMethods());
  return app;
}
