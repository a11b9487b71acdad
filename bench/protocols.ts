// Scenario `protocols` (`node bench/protocols.ts`; `--quick` for a short run): what each wire
// protocol costs per batch, side by side on the same machine (issue #21):
//
//   (a) codec: the gateway's side of one batch (encode the request, decode the reply) and the
//       stand-in's parse of the request (JSON.parse, or the binary tensor viewed in place), no I/O;
//   (b) the HTTP client against `npm run backend` (its own process, latency 0): batches one after
//       another, wall time per batch and both processes' CPU per batch;
//   (c) through the gateway (`npm start`, its own process): one client posting one batch's agents
//       (one key) per request, one request after another, wall time per request.
//
// Protocols: ours (JSON), v2 JSON FP64 and FP32, v2 binary FP64 and FP32 (Triton's binary tensor
// extension), TF Serving (JSON). Batches of 32 rows × 4,096 floats (the case) and 32 × 16,
// full-precision values (a seeded generator: what a real model's inputs print as, not short
// decimals). Every measurement runs in rounds, protocol after protocol; per protocol and size the
// round with the median round trip is kept. Writes bench/protocols.json and the RESULTS.md section
// and README headline between their `protocols` markers (`--report-only` rewrites them from the
// last run's file). The kinds compared are protocol-kinds.ts, one measurement protocol-measure.ts,
// the report protocols-report.ts.

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseCli} from '../scripts/cli.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {writeBetweenMarkers} from './markers.ts';
import {kinds, names, registryBackend} from './protocol-kinds.ts';
import type {ProtocolRow, ProtocolsRecord} from './protocol-kinds.ts';
import {matrix, measureOne} from './protocol-measure.ts';
import {protocolsHeadline, protocolsSection} from './protocols-report.ts';
import {stop} from './servers.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const usage = `
node bench/protocols.ts [--quick] [--report-only]

What each backend protocol costs per batch (ours, v2 JSON and binary, TF Serving), side by side:
the codec alone, the HTTP client against the stand-in, and through the gateway.

  --quick        one short round: shows it runs; its figures mean nothing and go to bench/out/
                 (the README and RESULTS.md keep the last full run's)
  --report-only  rewrite the RESULTS.md section and README headline from bench/protocols.json
`;
const args = parseCli('protocols', usage, {
  quick: {type: 'boolean', default: false},
  'report-only': {type: 'boolean', default: false},
});
const rounds = args.quick ? 1 : 3;
const sizes = [
  {rows: 32, d: 4096},
  {rows: 32, d: 16},
] as const;

async function startChild(entry: string, env: Record<string, string>, health: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: {...process.env, LOG_LEVEL: 'silent', HOST: '127.0.0.1', ...env},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await waitUntilUp(health, {child, describe: () => stderr.slice(-2000)});
  return child;
}

async function measure(): Promise<ProtocolsRecord> {
  const loadAtStart = os.loadavg()[0];
  const backendPort = await freePort();
  const standIn = await startChild(
    'src/simulator/server-main.ts',
    {BACKEND_PORT: String(backendPort), BACKEND_LATENCY_MIN_MS: '0', BACKEND_LATENCY_MAX_MS: '0'},
    `http://127.0.0.1:${backendPort}/healthz`,
  );
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-protocols-'));
  const modelsFile = path.join(dir, 'models.json');
  await writeFile(
    modelsFile,
    JSON.stringify({
      models: Object.fromEntries(
        kinds.map((k) => [k, {backend: registryBackend(k, backendUrl), max_batch_size: 32, max_wait_ms: 5}]),
      ),
    }),
  );
  const gatewayPort = await freePort();
  const gateway = await startChild(
    'src/main.ts',
    {
      PORT: String(gatewayPort),
      MODELS_FILE: modelsFile,
      ACTOR_POOL_SIZE: '1',
      MAX_BODY_BYTES: String(16 << 20),
      MAX_VECTOR_LENGTH: '4096',
      BACKEND_TIMEOUT_MS: '30000',
      REQUEST_TIMEOUT_MS: '60000',
    },
    `http://127.0.0.1:${gatewayPort}/readyz`,
  );
  const results = new Map<string, ProtocolRow[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const {rows, d} of sizes) {
        const data = matrix(rows, d, 20 + round);
        for (const kind of kinds) {
          const row = await measureOne(kind, data, backendUrl, standIn, `http://127.0.0.1:${gatewayPort}`, args.quick);
          const key = `${kind} ${rows}x${d}`;
          results.set(key, [...(results.get(key) ?? []), row]);
          console.log(
            `round ${round + 1}/${rounds} ${names[kind].padEnd(18)} ${rows}×${d}: encode ${row.encodeMs.toFixed(3)} decode ${row.decodeMs.toFixed(3)} parse ${row.serverParseMs.toFixed(3)} round trip ${row.roundTripMs.toFixed(2)} gateway ${row.gatewayMs.toFixed(2)} ms`,
          );
        }
      }
    }
  } finally {
    await stop([gateway, standIn]);
  }
  // Per protocol and size, the round with the median round trip.
  const rowsOut = [...results.values()].map(
    (rs) => [...rs].sort((a, b) => a.roundTripMs - b.roundTripMs)[Math.floor(rs.length / 2)],
  );
  const cpu = os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown';
  return {
    date: new Date().toISOString(),
    machine: `${os.availableParallelism()} cores (${cpu}), node ${process.version}`,
    rounds,
    loadAverage: [loadAtStart, os.loadavg()[0]],
    rows: rowsOut,
  };
}

if (import.meta.main) {
  // A quick run's figures mean nothing: they go to bench/out/, never into the tracked files.
  const quick = args.quick && !args['report-only'];
  const recordFile = new URL(quick ? 'out/protocols.json' : 'protocols.json', import.meta.url);
  const record: ProtocolsRecord = args['report-only']
    ? JSON.parse(await readFile(recordFile, 'utf8'))
    : await measure();
  if (!args['report-only']) {
    await mkdir(new URL('./', recordFile), {recursive: true});
    await writeFile(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  }
  if (!quick) {
    await writeBetweenMarkers(path.join(root, 'bench/RESULTS.md'), 'section', protocolsSection(record), 'protocols');
    await writeBetweenMarkers(path.join(root, 'README.md'), 'headline', protocolsHeadline(record), 'protocols');
  }
  console.log(protocolsSection(record));
  if (quick) console.log(`(quick run: ${recordFile.pathname}; README and RESULTS.md unchanged)`);
}
