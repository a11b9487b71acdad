// Baseline (b): Koa + koa-bodyparser + the service's own zod validation, computing the formula
// inline: no batching, no threads. The front end's limit. With HOLD=1 it holds each request for
// the backend's delay before answering (its parsed agents held meanwhile): what Koa itself costs
// per open request.

import {bias, predictRow} from '../../src/simulator/formula.ts';
import {loadConfig} from '../../src/config.ts';
import {keyString} from '../../src/protocol/mailbox-key.ts';
import {holding, holdMs} from './hold.ts';
import {serveKoaFront} from './koa-front.ts';

serveKoaFront(loadConfig({}), (agents, setHeader) => {
  const outcomes = agents.map((a) => ({prediction: predictRow(bias(a.model, a.agentType), a.vector)}));
  if (!holding) return outcomes;
  const ms = holdMs(agents.map((a) => keyString(a.agentType, a.model)));
  return new Promise((resolve) =>
    setTimeout(() => {
      setHeader('x-held-ms', ms.toFixed(1));
      resolve(outcomes);
    }, ms),
  );
});
