// Results as a test reads them: one object per part, from an actor's ResultSink or from a
// ResultsMessage's columns.

import type {AgentErrorCode} from '../../src/errors.ts';
import {forEachResult} from '../../src/protocol/messages.ts';
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
    error: (partId, code, message, batch) =>
      results.push({partId, outcome: 'error', code, message, ...(batch && {batch})}),
    withdrawn: (partId) => results.push({partId, outcome: 'withdrawn'}),
    report: (report) => reports.push(report),
  };
  return {sink, results, reports};
}

/** A results message's columns, one object per result. */
export function readResults(message: ResultsMessage): ReadResult[] {
  const {sink, results} = recordingSink();
  forEachResult(message, sink);
  return results;
}
