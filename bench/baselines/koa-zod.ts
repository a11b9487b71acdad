// Baseline (b): Koa + koa-bodyparser + the service's own zod validation, computing the formula
// inline: no batching, no threads. The front end's limit. With HOLD=1 it holds each request for
// the backend's delay before answering (its parsed agents held meanwhile): what Koa itself costs
// per open request.

import {bias, predictRow} from '../../src/simulator/formula.ts';
import {loadConfig} from '../../src/config.ts';
import {holding, holdMs} from './hold.ts';
import {serveKoaFront} from './koa-front.ts';

serveKoaFront(loadConfig({}), (agents) => {
  const outcomes = agents.map((a) => ({prediction: predictRow(bias(a.model, a.agentType), a.vector)}));
  return holding ? new Promise((resolve) => setTimeout(() => resolve(outcomes), holdMs())) : outcomes;
});
