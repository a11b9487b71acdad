// The gateway's membership log lines (a host joined, is leaving, back, gone, restarted), at a
// bounded rate per host: the first `burst` lines of a host in an interval of `intervalMs` are
// logged at once (a restart is two: restarted, joined); more of that host are only counted, and
// summed in one line per host at the end of the interval. A host's credential that toggles
// leaving, or restarts its name, as fast as it can costs at most burst + 1 lines per interval
// (a8-toggle: 852 lines/s before), and another host's lines are never held back by it.

import type {Logger} from 'pino';

interface HostLines {
  /** When this host's interval began, and its lines logged in it. */
  since: number;
  logged: number;
  readonly unlogged: Map<string, number>;
}

export class MembershipLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #hosts = new Map<string, HostLines>();
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, options: {intervalMs?: number; burst?: number; now?: () => number} = {}) {
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#burst = options.burst ?? 4;
    this.#now = options.now ?? Date.now;
  }

  /** `host`'s `event` (its line `message` with `fields`, at `level`), logged now or counted for the summary. */
  line(level: 'info' | 'warn', host: string, event: string, fields: object, message: string): void {
    const now = this.#now();
    let lines = this.#hosts.get(host);
    if (!lines || (lines.unlogged.size === 0 && now - lines.since >= this.#intervalMs)) {
      lines = {since: now, logged: 0, unlogged: new Map()};
      this.#hosts.set(host, lines);
    }
    if (lines.logged < this.#burst) {
      lines.logged++;
      this.#log[level]({host, ...fields}, message);
      return;
    }
    lines.unlogged.set(event, (lines.unlogged.get(event) ?? 0) + 1);
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.#summary(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One line per host with counts; hosts quiet for an interval are forgotten. */
  #summary(): void {
    this.#timer = undefined;
    const now = this.#now();
    for (const [host, lines] of this.#hosts) {
      if (lines.unlogged.size > 0) {
        this.#log.warn(
          {host, events: Object.fromEntries(lines.unlogged), intervalMs: this.#intervalMs},
          'actor host changed membership more often than logged (each change counted here)',
        );
        lines.unlogged.clear();
        lines.since = now;
        lines.logged = this.#burst;
      } else if (now - lines.since >= this.#intervalMs) this.#hosts.delete(host);
    }
    if (this.#hosts.size > 0 && !this.#timer) {
      this.#timer = setTimeout(() => this.#summary(), this.#intervalMs);
      this.#timer.unref();
    }
  }
}
