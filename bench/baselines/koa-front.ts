// The front end shared by baselines (b) and (c): Koa + koa-bodyparser + the service's own zod
// validation, then `answer` per request. Listens on PORT; GET answers the health check.

import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import {randomUUID} from 'node:crypto';
import type {AgentInput} from '../../src/coordinator/api.ts';
import type {Config} from '../../src/config.ts';
import {createSchemas, parsePredictRequest} from '../../src/http/schemas.ts';

/** `answer` may set a response header (a holding baseline says in `x-held-ms` what delay it drew). */
export type Answer = (
  agents: AgentInput[],
  setHeader: (name: string, value: string) => void,
) => unknown[] | Promise<unknown[]>;

export function serveKoaFront(config: Config, answer: Answer): void {
  const schemas = createSchemas(config);
  const app = new Koa();
  app.use(bodyParser({enableTypes: ['json'], jsonLimit: String(config.maxBodyBytes)}));
  app.use(async (ctx) => {
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
    const outcomes = await answer(parsed.agents, (name, value) => ctx.set(name, value));
    ctx.body = {
      request_id: randomUUID(),
      errors: false,
      results: Object.fromEntries(parsed.agents.map((a, i) => [a.id, outcomes[i]])),
    };
  });
  const server = app.listen({port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096}, () =>
    console.log('listening'),
  );
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
