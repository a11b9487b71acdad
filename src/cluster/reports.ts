// Batch reports from actor hosts (a key's backend calls: they feed the latency estimate and the
// per-key series of /metrics). A gateway takes a report only when
//
//   - it comes from the member its key's rows were sent to (so a host, or a key holder speaking
//     as one, cannot write the series of a key placed elsewhere, nor of a key never admitted), and
//   - every field is in range: size 1..100,000 (MAX_BATCH_SIZE's bound), at most `size` waits,
//     each time (backendMs, windowMs, every wait) a finite number of ms in 0..1 hour, and
//   - it is among the first `maxReportsPerFrame` of its frame.
//
// Anything else is dropped (counted as bad_report, one per report); the results in the frame are
// still taken. Pure: gateway-transport.ts keeps which keys went to which member.

import type {BatchReport} from '../protocol/messages.ts';

export const maxReportsPerFrame = 256;
const maxBatchRows = 100_000;
const maxReportMs = 3_600_000;

const msInRange = (ms: number) => Number.isFinite(ms) && ms >= 0 && ms <= maxReportMs;

/** Whether one report's fields are all in range. */
export function reportInRange(r: BatchReport): boolean {
  return (
    Number.isInteger(r.size) &&
    r.size >= 1 &&
    r.size <= maxBatchRows &&
    r.waitsMs.length <= r.size &&
    msInRange(r.backendMs) &&
    msInRange(r.windowMs) &&
    r.waitsMs.every(msInRange)
  );
}

/** The reports to take from a member that was sent rows of `sentKeys`, and how many were dropped. */
export function acceptedReports(
  reports: readonly BatchReport[],
  sentKeys: ReadonlySet<string> | undefined,
): {reports: readonly BatchReport[]; dropped: number} {
  if (reports.length === 0) return {reports, dropped: 0};
  const kept = reports.slice(0, maxReportsPerFrame).filter((r) => sentKeys?.has(r.key) === true && reportInRange(r));
  return {reports: kept, dropped: reports.length - kept.length};
}
