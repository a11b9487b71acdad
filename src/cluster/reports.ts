// Batch reports from actor hosts (a key's backend calls: they feed the latency estimate and the
// per-key series of /metrics). A gateway takes a report only when
//
//   - it comes from the member its key is placed on now, as this gateway last sent it (so a host,
//     or a key holder speaking as one, cannot write the series of a key placed elsewhere, of a
//     key that moved away from it, nor of a key never admitted), and
//   - every field is in range: size 1..100,000 (MAX_BATCH_SIZE's bound), at most `size` waits,
//     each time (backendMs, windowMs, every wait) a finite number of ms in 0..1 hour, and
//   - it is among the first `maxReportsPerFrame` of its frame.
//
// Anything else is dropped (counted as bad_report, one per report); the results in the frame are
// still taken. Pure: gateway-transport.ts feeds PlacedKeys with each part it sends.

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

/**
 * Where each key was last sent (the member it is placed on now), by key and by member. Bounded:
 * a key not sent for `idleMs` is forgotten by `sweep` (the coordinator retires idle keys sooner,
 * and a report for one comes within a batch of its last rows), and a member's keys go with it.
 * Memory follows the keys in use, not every key ever seen (a2-keys: +0.3 KB a key, never shrank).
 */
export class PlacedKeys {
  readonly #idleMs: number;
  /** Key -> its member and when last sent; least recently sent first. */
  readonly #byKey = new Map<string, {member: number; at: number}>();
  readonly #byMember = new Map<number, Set<string>>();

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Rows of `key` went to `member` at `now`: it is placed there (and no longer on another member). */
  sent(key: string, member: number, now: number): void {
    const last = this.#byKey.get(key);
    if (last) {
      this.#byKey.delete(key);
      if (last.member !== member) this.#forget(last.member, key);
    }
    this.#byKey.set(key, {member, at: now});
    let keys = this.#byMember.get(member);
    if (!keys) {
      keys = new Set();
      this.#byMember.set(member, keys);
    }
    keys.add(key);
  }

  /** The keys placed on `member` now. */
  of(member: number): ReadonlySet<string> | undefined {
    return this.#byMember.get(member);
  }

  /** The member is gone: its keys are placed nowhere. */
  dropMember(member: number): void {
    for (const key of this.#byMember.get(member) ?? []) this.#byKey.delete(key);
    this.#byMember.delete(member);
  }

  /** Forgets keys not sent for idleMs. */
  sweep(now: number): void {
    for (const [key, {member, at}] of this.#byKey) {
      if (now - at < this.#idleMs) break;
      this.#byKey.delete(key);
      this.#forget(member, key);
    }
  }

  #forget(member: number, key: string): void {
    const keys = this.#byMember.get(member);
    keys?.delete(key);
    if (keys?.size === 0) this.#byMember.delete(member);
  }
}
