// What the sections of RESULTS.md share: the run's record (and the heap snapshots' record), the
// Report every section takes, each server's best row of a scenario, and the scenarios' table.

import {n} from './figures.ts';
import type {Figures} from './figures.ts';
import type {Scenario} from './scenarios.ts';
import type {ServerId} from './server-specs.ts';

export interface RunRecord {
  date: string;
  quick: boolean;
  node: string;
  cores: number;
  cpu: string | undefined;
  memGb: number;
  minutes: number;
  results: Record<string, Figures[]>;
  /** When each scenario last ran (a run with --only keeps the others'). */
  scenarioDates?: Record<string, string>;
}

/** What bench/heap.ts measured, by label ('a', 'd', 'd-before'). */
export interface HeapRecord {
  runs: Record<string, {date: string; commit: string; open: number; kbPerOpen: number; extra?: string}>;
}

/** What every section of RESULTS.md reads: this run, its scenarios, and the runs it is compared with. */
export interface Report {
  readonly json: RunRecord;
  readonly results: Record<string, Figures[]>;
  readonly quick: boolean;
  readonly scenarios: readonly Scenario[];
  /** The run before the speed-up (bench/results-before.json). */
  readonly before: RunRecord | undefined;
  /** Open requests before the lean front end (bench/results-open-before.json). */
  readonly openBefore: (RunRecord & {commit?: string}) | undefined;
  /** Heap snapshots (bench/heap.json). */
  readonly heap: HeapRecord | undefined;
}

/** The best throughput row of each server in a scenario (its saturation point). */
export function headline(r: Report, scenario: string): Map<ServerId, Figures> {
  const {results} = r;
  const best = new Map<ServerId, Figures>();
  for (const f of results[scenario] ?? [])
    if (!best.has(f.server) || f.rps > best.get(f.server)!.rps) best.set(f.server, f);
  return best;
}

/** A scenario's rows as a table; `withAdded`: with the latency added over the backend call. */
export function table(rows: Figures[], withAdded: boolean): string {
  const head = [
    'server',
    'clients',
    'req/s',
    'agents/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    ...(withAdded ? ['added p50 ms', 'added p99 ms', 'steady added p50 / p99 / max ms'] : []),
    'mean batch',
    'fill',
    'backend calls/agent',
    'server CPU µs/req',
    'peak RSS MB',
    'errors',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const f of rows) {
    lines.push(
      `| ${[f.name, f.clients, n(f.rps), n(f.aps), n(f.p50, 1), n(f.p99, 1), n(f.max, 0), ...(withAdded ? [n(f.addedP50, 1), n(f.addedP99, 1), `${n(f.steadyAddedP50, 1)} / ${n(f.steadyAddedP99, 1)} / ${n(f.steadyAddedMax, 0)}`] : []), n(f.meanBatch, 1), n(f.fill, 2), n(f.callsPerAgent, 3), n(f.cpuUs), n(f.rssMb), f.errors + f.wrong].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
