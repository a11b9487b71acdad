// Refused cluster frames, counted by reason (for /metrics) and logged at a bounded rate: the first
// refusal after a quiet spell is logged at once with its subject; any more within `intervalMs`
// are only counted, and summed in one line at the end of that interval. A flood of forged frames
// costs at most two log lines per interval, whatever its rate or however many subjects it uses,
// and no state per sender or subject.

import type {Logger} from 'pino';

/** Characters of an (attacker-chosen) subject kept in a log line. */
const maxSubjectChars = 200;

export class Refusals<Reason extends string> {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #lines: {readonly first: string; readonly more: string};
  readonly #counts = new Map<Reason, number>();
  readonly #unlogged = new Map<Reason, number>();
  #lastLineAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  /** `lines`: the messages of the first line and of the summary (other bounded logs: wire.ts's publish failures). */
  constructor(
    log: Logger,
    options: {intervalMs?: number; now?: () => number; lines?: {first: string; more: string}} = {},
  ) {
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#lines = options.lines ?? {
      first: 'refused a cluster frame',
      more: 'refused more cluster frames (not each logged; agent_batcher_cluster_refused_total counts them)',
    };
  }

  /** Every refusal so far, by reason. */
  get counts(): ReadonlyMap<Reason, number> {
    return this.#counts;
  }

  /** `count` frames (or results) refused for `reason`, the first of them on `subject`. */
  refuse(reason: Reason, subject: string, detail?: string, count = 1): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + count);
    const now = this.#now();
    if (this.#unlogged.size === 0 && now - this.#lastLineAt >= this.#intervalMs) {
      this.#lastLineAt = now;
      this.#log.warn(
        {reason, subject: subject.slice(0, maxSubjectChars), ...(detail && {detail}), ...(count > 1 && {count})},
        this.#lines.first,
      );
      return;
    }
    this.#unlogged.set(reason, (this.#unlogged.get(reason) ?? 0) + count);
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.#summary(), Math.max(0, this.#lastLineAt + this.#intervalMs - now));
      this.#timer.unref();
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #summary(): void {
    this.#timer = undefined;
    this.#lastLineAt = this.#now();
    this.#log.warn({refused: Object.fromEntries(this.#unlogged), intervalMs: this.#intervalMs}, this.#lines.more);
    this.#unlogged.clear();
  }
}
