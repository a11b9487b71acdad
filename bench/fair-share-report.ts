// The fair-share bench's figures as a Markdown table (bench/fair-share.ts prints it; the README's
// "Fair share" and bench/RESULTS.md take their figures from it).

import type {ContendedFigures, LoneFigures} from './fair-share-scenarios.ts';

export interface FairShareResults {
  readonly seconds: number;
  readonly quick?: boolean;
  readonly lone?: LoneFigures;
  /** A flood from 1, 2, 20 addresses (the hog: 1) beside 50 normal clients of their own addresses. */
  readonly flood?: readonly ContendedFigures[];
  /** All behind one proxy address: without API keys (one client), then with a key each. */
  readonly proxy?: {readonly withoutKeys: ContendedFigures; readonly withKeys: ContendedFigures};
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ms = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} s` : '–');

function contendedRow(label: string, r: ContendedFigures): string {
  const n = r.normal;
  return (
    `| ${label} | ${n.answered} of ${n.requests} answered (${n.gaveUp} given up), ${pct(n.firstTryShare)} at the first try, ` +
    `tries mean ${n.meanTries.toFixed(2)} max ${n.maxTries} | ${ms(n.p50Ms)} / ${ms(n.p99Ms)} | ${pct(n.shareOfAdmitted)} | ` +
    `${r.flood.requests} requests, ${r.flood.refused} refused | ${n.errors + r.flood.wrong + n.wrong} |`
  );
}

/** The table: one row per scenario run. */
export function fairShareTable(results: FairShareResults): string {
  // The rows of a run before the proxy scenario lack the normal clients' shares: run it again.
  if (results.flood?.some((r) => r.normal.shareOfAdmitted === undefined))
    return 'fair-share: these figures are of an older bench (no normal share of admitted agents): run it again';
  const lines = [
    `Fair share${results.quick ? ' (--quick: too short for figures, shows it runs)' : ''}, ${results.seconds} s per row:`,
    '',
  ];
  const {lone} = results;
  if (lone)
    lines.push(
      `- lone client, ${lone.clients} concurrent requests × 4 agents, one address: ${pct(lone.admittedShare)} admitted ` +
        `(${lone.refused} of ${lone.requests} refused), at most ${lone.peakOpen} held at once, ${lone.errors} errors, ${lone.wrong} wrong`,
      '',
    );
  const rows: string[] = [];
  for (const r of results.flood ?? [])
    rows.push(
      contendedRow(
        r.floodSenders === 1
          ? 'a hog (1 address) beside 50 normal addresses'
          : `a flood from ${r.floodSenders} addresses beside 50 normal ones`,
        r,
      ),
    );
  if (results.proxy) {
    rows.push(contendedRow('behind one proxy address, no API keys (all one client)', results.proxy.withoutKeys));
    rows.push(contendedRow('behind one proxy address, an API key each', results.proxy.withKeys));
  }
  if (rows.length > 0)
    lines.push(
      '| scenario | normal clients | normal p50 / p99 (first try to answer) | normal share of admitted agents | flood | errors + wrong |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
    );
  return lines.join('\n');
}
