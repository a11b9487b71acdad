// Answering POST /predict: the whole answer at once (200, or 504 / 502 when no agent succeeded),
// or streamed (DESIGN §9): one JSON line per agent as its outcome comes, then a last line.

import type {PassThrough} from 'node:stream';
import type {AgentOutcome} from '../coordinator/api.ts';
import {setAnswerHeaders} from './front.ts';
import type {FrontContext} from './front.ts';
import type {AgentResult, PredictResponse} from './schemas.ts';

/** The whole answer: 200 when any agent succeeded, else 504 when all ran out of time, else 502. */
export function answer(ctx: FrontContext, ids: readonly string[], outcomes: readonly AgentOutcome[]): void {
  // A null-prototype object: an agent id such as "__proto__" stays an ordinary own key.
  const results: Record<string, AgentResult> = Object.create(null);
  let succeeded = 0;
  let allDeadline = true;
  for (let i = 0; i < ids.length; i++) {
    const outcome: AgentOutcome = outcomes[i];
    if ('prediction' in outcome) succeeded++;
    else if (outcome.error.code !== 'deadline_exceeded') allDeadline = false;
    results[ids[i]] = outcome;
  }
  const body: PredictResponse = {request_id: ctx.state.requestId, errors: succeeded < ids.length, results};
  ctx.status = succeeded > 0 ? 200 : allDeadline ? 504 : 502;
  ctx.body = body;
}

const ndjson = 'application/x-ndjson';

/** Streamed answers are asked for with `Accept: application/x-ndjson` (DESIGN §9). */
export function wantsStream(accept: string): boolean {
  return accept.includes(ndjson);
}

/** One agent's line of a streamed answer. */
export function outcomeLine(id: string, outcome: AgentOutcome): string {
  return `${JSON.stringify({id, ...outcome})}\n`;
}

/** The 200 goes out now; lines follow as outcomes come, then the last line, then the end. */
export function answerStreamed(ctx: FrontContext, stream: PassThrough, outcomes: Promise<AgentOutcome[]>): void {
  ctx.status = 200;
  ctx.type = ndjson;
  // A proxy in front (nginx) must pass each line on as it comes, not hold the answer back.
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = stream;
  setAnswerHeaders(ctx);
  ctx.res.flushHeaders();
  const requestId = ctx.state.requestId;
  void outcomes.then((settled) => {
    const errors = settled.some((o) => !('prediction' in o));
    stream.end(`${JSON.stringify({request_id: requestId, errors, done: true})}\n`);
  });
}
