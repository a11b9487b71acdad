// The fair share measured both ways (issue #22, item 7), against the service in a process of its
// own, every answer checked against the formula (bench/fair-share-scenarios.ts):
//
//   lone   one address, `--lone-clients` concurrent clients (closed loop) × 4 agents over 6 keys,
//          every limit at its default, backend 1–2 s: the share of requests admitted (all, while
//          capacity remains), and the most requests the service held at once.
//   flood  1 (the hog), 2 and 20 flooding addresses (`--flood-requests` requests in flight between
//          them, 4 agents each, Retry-After ignored: back 20 ms after a refusal) beside 50 normal
//          clients (one address each, 4 agents, Retry-After honoured), all on one key whose mailbox
//          holds MAX_PENDING_PER_MAILBOX=2000 (200 with --quick), backend 1–1.5 s: what the normal clients got
//          (answered, at the first try, tries, p50/p99 from first try to answer, given up after 10
//          tries) and their share of the agents admitted.
//   proxy  the hog and the 50 normal clients all from one address (a proxy in front): without
//          API keys (one client: no share can bind), then with API_KEYS, a key each.
//
// The normal clients start `warm` into the flood and send for `--seconds`; the flood goes on
// until their last request is answered or given up. Not a test: figures for the README's "Fair
// share" and bench/RESULTS.md; the table is printed (bench/fair-share-report.ts). `--root DIR`
// runs another checkout's src/main.ts (the code before, for comparison).
//
//   node bench/fair-share.ts [--quick] [--seconds 15] [--lone-clients 10000] [--only lone|flood|proxy]
//                            [--root DIR] [--out FILE] [--report-only]

import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {parseCli} from '../scripts/cli.ts';
import {fairShareTable} from './fair-share-report.ts';
import type {FairShareResults} from './fair-share-report.ts';
import {contended, lone} from './fair-share-scenarios.ts';
import type {Sender} from './fair-share-scenarios.ts';

const usage = `
node bench/fair-share.ts [--quick] [--seconds 15] [--lone-clients 10000] [--flood-requests N]
                         [--only lone,flood,proxy] [--root DIR] [--out FILE] [--report-only]

The fair share measured both ways against the service in its own process, every answer checked:
  lone   one address, many concurrent clients on an idle service (all should be admitted)
  flood  1, 2 and 20 flooding addresses beside 50 normal clients on one key
  proxy  everyone behind one address, without and with API keys

  --quick        every scenario short and small (bench/out/fair-share.json): its figures mean nothing
  --root DIR     run another checkout's src/main.ts (the code before, for comparison)
  --report-only  print the table of the last run's file
`;
const args = parseCli('fair-share', usage, {
  // Every scenario once, short and small: shows it runs; its figures mean nothing.
  quick: {type: 'boolean', default: false},
  seconds: {type: 'string'},
  'lone-clients': {type: 'string'},
  'flood-requests': {type: 'string'},
  only: {type: 'string'},
  root: {type: 'string'},
  out: {type: 'string'},
  'report-only': {type: 'boolean', default: false},
});
const scenarios = ['lone', 'flood', 'proxy'];
const only = args.only?.split(',') ?? scenarios;
for (const id of only)
  if (!scenarios.includes(id)) {
    console.error(`fair-share: no scenario ${id}: --only takes ${scenarios.join(', ')}`);
    process.exit(2);
  }
const quick = args.quick ?? false;
const here = import.meta.dirname;
const out = args.out ?? path.join(here, quick ? 'out/fair-share.json' : 'fair-share.json');
if (args['report-only']) {
  console.log(fairShareTable(JSON.parse(await readFile(out, 'utf8')) as FairShareResults));
  process.exit(0);
}
const seconds = Number(args.seconds ?? (quick ? 3 : 15));
const durationMs = seconds * 1000;
const warmMs = quick ? 500 : 2000;
// The flood asks for more than the mailbox holds (100 × 4 > 200 in the quick run).
const mailbox = quick ? 200 : 2000;
const inFlight = Number(args['flood-requests'] ?? (quick ? 100 : 800));
const root = path.resolve(args.root ?? path.join(here, '..'));

const normalAddresses = Array.from({length: 50}, (_, c) => `127.0.0.${101 + c}`);
const results: {-readonly [K in keyof FairShareResults]: FairShareResults[K]} & {root: string} = {
  root,
  seconds,
  quick,
};
if (only.includes('lone')) {
  results.lone = await lone(root, Number(args['lone-clients'] ?? (quick ? 500 : 10_000)), durationMs);
  console.log('lone: refusals by reason', results.lone.reasons);
}
if (only.includes('flood')) {
  const floods = [];
  for (const addresses of quick ? [1, 20] : [1, 2, 20]) {
    const flood: Sender[] = Array.from({length: addresses}, (_, a) => ({address: `127.0.0.${2 + a}`}));
    const normal = normalAddresses.map((address) => ({address}));
    floods.push(await contended(root, {flood, inFlight, normal, durationMs, warmMs, mailbox}));
  }
  results.flood = floods;
}
if (only.includes('proxy')) {
  const proxy = '127.0.0.200';
  const keys = Array.from({length: 51}, (_, i) => `bench-tenant-${i}-key`);
  const run = (withKeys: boolean) =>
    contended(root, {
      env: withKeys ? {API_KEYS: keys.join(',')} : {},
      flood: [{address: proxy, key: withKeys ? keys[0] : undefined}],
      inFlight,
      normal: normalAddresses.map((_, c) => ({address: proxy, key: withKeys ? keys[1 + c] : undefined})),
      durationMs,
      warmMs,
      mailbox,
    });
  results.proxy = {withoutKeys: await run(false), withKeys: await run(true)};
}
await mkdir(path.dirname(out), {recursive: true});
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(fairShareTable(results));
console.log(`(written to ${path.relative(process.cwd(), out)})`);
