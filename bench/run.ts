// `npm run bench` (the full run, for figures) and `npm run bench -- --quick` (every scenario once at
// one small load, to show it still runs: under 2 minutes on 2 cores). Usage below.
//
// Runs every scenario (bench/scenarios.ts) against every server, one process at a time, with the
// same load generator and payloads, then writes results.json, RESULTS.md and the charts
// (bench/report.ts). Figures are reported as ratios measured in this one run; absolute numbers on
// a shared machine mean little alone.

import {existsSync} from 'node:fs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import {fail, parseCli} from '../scripts/cli.ts';
import {figures, summaryLine} from './figures.ts';
import type {Figures} from './figures.ts';
import {mixedPlan} from '../scripts/load-plan.ts';
import {runLoad} from '../scripts/load-generator.ts';
import {startRecorder} from './recorder.ts';
import {keepMarkedBlocks} from './markers.ts';
import {charts, report} from './report.ts';
import type {RunRecord} from './report-input.ts';
import {scenarios as allScenarios, scenarioIds} from './scenarios.ts';
import {servers} from './server-specs.ts';
import type {Scenario} from './scenarios.ts';
import type {ServerId} from './server-specs.ts';
import {cpuSeconds, mainThreadCpuSeconds, peakRssMb, readProbe, startServer, stop} from './servers.ts';

const usage = `
npm run bench -- [--quick] [--only SCENARIO[,SCENARIO…]] [--out DIR] [--report-only]

Starts each server in its own process, drives it with the same load, and writes RESULTS.md,
results.json and the charts (the full run into bench/, --quick into bench/out/).

  --quick        every scenario once, at one small load, 2 s each: shows it all still runs
                 (under 2 minutes here); its figures mean nothing
  --only         these scenarios (${scenarioIds().join(', ')}); the others keep
                 their last figures; or real-model alone: a real ONNX model served four ways
                 (bench/real-model.ts; with --quick a short run)
  --out          where to write (default bench/, or bench/out/ with --quick)
  --report-only  rewrite RESULTS.md and the charts from the last results.json

One batch through each backend protocol, JSON and binary, is its own tool: node bench/protocols.ts [--quick].
`;

const args = parseCli('bench', usage, {
  quick: {type: 'boolean', default: false},
  out: {type: 'string'},
  only: {type: 'string'},
  // Rewrites RESULTS.md (and the charts) from the results.json of an earlier run.
  'report-only': {type: 'boolean', default: false},
});
// real-model runs alone, with a runner of its own (below); the others are bench/scenarios.ts's.
const known = [...scenarioIds(), 'real-model'];
const unknown =
  args.only === 'real-model' ? [] : (args.only?.split(',').filter((id) => !scenarioIds().includes(id)) ?? []);
if (unknown.length > 0) fail('bench', `no scenario ${unknown.join(', ')}: --only takes ${known.join(', ')}`, 2);
const quick = args.quick!;
const here = new URL('./', import.meta.url);
const outDir = new URL(args.out ?? (quick ? './out/' : './'), here);
// Scenario `real-model` (a real ONNX model served four ways) has a runner of its own: bench/real-model.ts.
if (args.only === 'real-model') {
  const {runRealModel} = await import('./real-model.ts');
  const {reportRealModel} = await import('./real-model-report.ts');
  await mkdir(outDir, {recursive: true});
  const recordFile = new URL('real-model.json', outDir);
  const record = args['report-only']
    ? JSON.parse(await readFile(recordFile, 'utf8'))
    : await runRealModel({quick, outDir});
  await writeFile(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  const resultsMd = new URL('RESULTS.md', outDir);
  if (!existsSync(resultsMd)) await writeFile(resultsMd, '# Bench results\n');
  // The README's headline follows the full run only (a quick run's figures stay in bench/out/).
  await reportRealModel(record, resultsMd.pathname, quick ? undefined : new URL('../README.md', here).pathname);
  process.exit(0);
}
const scenarios = allScenarios(quick, args.only);

const resultsFile = new URL('results.json', outDir);
const earlier: RunRecord | undefined = args['report-only']
  ? JSON.parse(await readFile(resultsFile, 'utf8'))
  : undefined;
// With --only, the scenarios not run keep their figures (and dates) from the last run.
const kept: RunRecord | undefined =
  args.only && !earlier && existsSync(resultsFile) ? JSON.parse(await readFile(resultsFile, 'utf8')) : undefined;
const results: Record<string, Figures[]> = earlier?.results ?? {...kept?.results};
const scenarioDates: Record<string, string> = earlier?.scenarioDates ?? {...kept?.scenarioDates};
for (const id of Object.keys(kept?.results ?? {})) scenarioDates[id] ??= kept!.date;
const benchStarted = Date.now();
console.log(
  `agent-batcher bench (${quick ? 'quick' : 'full'}): node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}`,
);

/** One server at one load: started, loaded (after its warm-up, if any), stopped, its figures read. */
async function measure(scenario: Scenario, id: ServerId, clients: number): Promise<Figures> {
  const recorder = scenario.viaHttpBackend ? await startRecorder(...scenario.latency) : undefined;
  const env: Record<string, string> = {
    BACKEND_LATENCY_MIN_MS: String(scenario.latency[0]),
    BACKEND_LATENCY_MAX_MS: String(scenario.latency[1]),
    MAX_PENDING_TOTAL: '1000000',
    MAX_PENDING_PER_MAILBOX: '1000000',
    ...(recorder && {BACKEND_URL: recorder.url, BACKEND_TIMEOUT_MS: '30000'}),
  };
  const {children, url, probeFile, front} = await startServer(id, env);
  const plan = mixedPlan({agents: scenario.agents, length: scenario.length, marker: !!recorder});
  if (scenario.warmupSeconds) {
    await runLoad({
      url,
      clients,
      rate: scenario.rate,
      durationMs: scenario.warmupSeconds * 1000,
      plan,
      progress: false,
    });
  }
  const cpuBefore = await cpuSeconds(children);
  const mainBefore = await mainThreadCpuSeconds(front);
  const load = await runLoad({
    url,
    clients,
    rate: scenario.rate,
    durationMs: scenario.seconds * 1000,
    plan,
    checkEvery: 25,
    label: `${scenario.id} · ${servers[id].name} · ${clients} clients`,
    keepRequests: !!recorder,
  });
  const cpu = (await cpuSeconds(children)) - cpuBefore;
  const mainCpu = (await mainThreadCpuSeconds(front)) - mainBefore;
  const rss = await peakRssMb(children);
  await stop(children);
  const records = await recorder?.records();
  await recorder?.close();
  const f = figures(id, clients, load, rss, cpu, records);
  f.mainCpuUs = (mainCpu / Math.max(1, load.requests)) * 1e6;
  const probe = await readProbe(probeFile);
  if (probe) {
    f.gcMaxMs = probe.gcMaxMs;
    f.gcTotalMs = probe.gcTotalMs;
    f.gcByKind = probe.gcByKind;
    f.gcOver20Ms = probe.gcOver20Ms;
    f.eventLoopP99Ms = probe.eventLoopP99Ms;
    f.heapPerOpenKb = ((probe.heapMaxMb - probe.heapBaselineMb) * 1024) / clients;
  }
  // Only a cluster has cluster-unique batch ids; two separate services both say b-1-1.
  if (servers[id].nats) f.sharedAcrossFronts = load.sharedAcrossUrls;
  return f;
}

for (const scenario of earlier ? [] : scenarios) {
  console.log(`\n${scenario.title}`);
  results[scenario.id] = [];
  scenarioDates[scenario.id] = new Date().toISOString();
  const rounds = scenario.rounds ?? 1;
  const byRun = new Map<string, Figures[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const id of scenario.servers) {
      for (const clients of scenario.loads) {
        const f = await measure(scenario, id, clients);
        const run = `${id} ${clients}`;
        byRun.set(run, [...(byRun.get(run) ?? []), f]);
        console.log(`    ${rounds > 1 ? `round ${round}: ` : ''}${summaryLine(scenario.id, f)}`);
      }
    }
  }
  // Several rounds (servers interleaved): each server's round of median CPU per request stands,
  // with every round's figure beside it.
  for (const runs of byRun.values()) {
    const sorted = [...runs].sort((x, y) => x.cpuUs - y.cpuUs);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    if (runs.length > 1) median.cpuUsRounds = runs.map((r) => r.cpuUs);
    results[scenario.id].push(median);
  }
}

const json: RunRecord = earlier ?? {
  date: new Date().toISOString(),
  quick,
  node: process.version,
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  memGb: os.totalmem() / 2 ** 30,
  minutes: (Date.now() - benchStarted) / 60000,
  results,
  scenarioDates,
};
const beforeFile = new URL('results-before.json', here);
const before: RunRecord | undefined = existsSync(beforeFile)
  ? JSON.parse(await readFile(beforeFile, 'utf8'))
  : undefined;
await mkdir(outDir, {recursive: true});
for (const [name, svg] of Object.entries(charts(results))) await writeFile(new URL(name, outDir), svg);
await writeFile(new URL('results.json', outDir), JSON.stringify(json, null, 1));
const openBeforeFile = new URL('results-open-before.json', here);
const openBefore = existsSync(openBeforeFile) ? JSON.parse(await readFile(openBeforeFile, 'utf8')) : undefined;
const heapFile = new URL('heap.json', here);
const heap = existsSync(heapFile) ? JSON.parse(await readFile(heapFile, 'utf8')) : undefined;
const resultsMdFile = new URL('RESULTS.md', outDir);
const written = existsSync(resultsMdFile) ? await readFile(resultsMdFile, 'utf8') : '';
// The blocks this run does not write (real-model's section, the notes on earlier runs) stay.
await writeFile(resultsMdFile, keepMarkedBlocks(written, report(json, allScenarios(quick), before, openBefore, heap)));
console.log(`\nwrote ${new URL('RESULTS.md', outDir).pathname} (${json.minutes.toFixed(1)} min)`);
