// Baseline (b): Koa + koa-bodyparser + the service's own zod validation, computing the formula
// inline: no batching, no threads. The front end's limit.

import {bias, predictRow} from '../../src/simulator/formula.ts';
import {loadConfig} from '../../src/config.ts';
import {serveKoaFront} from './koa-front.ts';

serveKoaFront(loadConfig({}), (agents) => agents.map((a) => ({prediction: predictRow(bias(a.model, a.agentType), a.vector)})));
