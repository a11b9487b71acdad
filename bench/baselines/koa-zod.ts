// Baseline (b): Koa + koa-bodyparser + the service's own zod validation, computing the formula
// inline: no batching, no threads. The front end's limit.

import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import {randomUUID} from 'node:crypto';
import {bias, predictRow} from '../../src/backend/formula.ts';
import {loadConfig} from '../../src/config.ts';
import {createSchemas, parsePredictRequest} from '../../src/http/schemas.ts';

const config = loadConfig({});
const schemas = createSchemas(config);
const app = new Koa();
app.use(bodyParser({enableTypes: ['json'], jsonLimit: String(config.maxBodyBytes)}));
app.use((ctx) => {
  if (ctx.method === 'GET') {
    ctx.body = {status: 'ok'};
    return;
  }
  const parsed = parsePredictRequest(ctx.request.body, schemas, config);
  if (!parsed.ok) {
    ctx.status = 422;
    ctx.body = {error: {code: 'validation_error', details: parsed.details}};
    return;
  }
  const results = parsed.agents.map((a) => [a.id, {prediction: predictRow(bias(a.model, a.agentType), a.vector)}]);
  ctx.body = {request_id: randomUUID(), errors: false, results: Object.fromEntries(results)};
});
const server = app.listen({port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096}, () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
