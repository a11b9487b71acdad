// Results as a test reads them: one object per part, from an actor's ResultSink or from a
// ResultsMessage's columns.

import type {AgentErrorCode} from '../../src/errors.ts';
import {Outcome, ResultField, resultStride} from '../../src/protocol/messages.ts';
import type {BatchInfo, BatchReport, ResultsMessage} from '../../src/protocol/messages.ts';
import type {ResultSink} from '../../src/protocol/outbox.ts';

export type ReadResult =
  | {partId: number; outcome: 'prediction'; prediction: number; batch: BatchInfo}
  | {partId: number; outcome: 'error'; code: AgentErrorCode; message: string; batch?: BatchInfo}
  | {partId: number; outcome: 'withdrawn'};

/** A sink that keeps every result and report as it comes. */
export function recordingSink(): {sink: ResultSink; results: ReadResult[]; reports: BatchReport[]} {
  const results: ReadResult[] = [];
  const reports: BatchReport[] = [];
  const sink: ResultSink = {
    prediction: (partId, prediction, batch) => results.push({partId, outcome: 'prediction', prediction, batch}),
    error: (partId, code, message, batch) => results.push({partId, outcome: 'error', code, message, ...(batch && {batch})}),
    withdrawn: (partId) => results.push({partId, outcome: 'withdrawn'}),
    report: (report) => reports.push(report),
  };
  return {sink, results, reports};
}

/** A results message's columns, one object per result. */
export function readResults(message: ResultsMessage): ReadResult[] {
  const out: ReadResult[] = [];
  const {results, errors, batches} = message;
  for (let at = 0; at < results.length; at += resultStride) {
    const partId = results[at + ResultField.partId];
    const outcome = results[at + ResultField.outcome];
    const batch = batches[results[at + ResultField.batch]];
    if (outcome === Outcome.prediction) out.push({partId, outcome: 'prediction', prediction: results[at + ResultField.value], batch});
    else if (outcome === Outcome.error) out.push({partId, outcome: 'error', ...errors[results[at + ResultField.value]], ...(batch && {batch})});
    else out.push({partId, outcome: 'withdrawn'});
  }
  return out;
}
