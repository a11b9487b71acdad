// The benchmarks' HTTP backend: DESIGN §4's network with a uniform latency, recording for every
// row (marked by its first value) the latency it applied, so that the bench can compute the
// latency a gateway added on top of the backend call that carried each agent. It runs in its own
// process (so that it does not share an event loop with the load generator); `startRecorder`
// spawns it and reads its records back at the end.

import http from 'node:http';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {raceTimeout} from '../src/race-timeout.ts';
import {predictMatrix} from '../src/simulator/formula.ts';
import {sampleLatencyMs} from '../src/simulator/latency.ts';

export interface Records {
  /** marker -> backend ms of the call that carried it. */
  readonly rowMs: Map<number, number>;
  readonly calls: number;
}

export interface Recorder {
  readonly url: string;
  records(): Promise<Records>;
  close(): Promise<void>;
}

export async function startRecorder(latencyMinMs: number, latencyMaxMs: number): Promise<Recorder> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], {
    env: {...process.env, RECORDER_LATENCY: `${latencyMinMs},${latencyMaxMs}`},
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const base = line.toString().trim();
  return {
    url: `${base}/predict`,
    async records() {
      const data = (await (await fetch(`${base}/records`)).json()) as {calls: number; rows: [number, number][]};
      return {calls: data.calls, rowMs: new Map(data.rows)};
    },
    async close() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await raceTimeout(exited, 5000, () => child.kill('SIGKILL'));
    },
  };
}

if (process.env.RECORDER_LATENCY && import.meta.main) {
  const [min, max] = process.env.RECORDER_LATENCY.split(',').map(Number);
  const rows: number[] = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') {
        const pairs: [number, number][] = [];
        for (let i = 0; i < rows.length; i += 2) pairs.push([rows[i], rows[i + 1]]);
        res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({calls, rows: pairs}));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        model: string;
        agent_type: string;
        vectors: number[][];
      };
      const started = performance.now();
      calls++;
      setTimeout(
        () => {
          const ms = performance.now() - started;
          for (const row of body.vectors) rows.push(row[0], ms);
          res.writeHead(200, {'content-type': 'application/json'});
          res.end(JSON.stringify({vector: predictMatrix(body.model, body.agent_type, body.vectors)}));
        },
        sampleLatencyMs({latencyMinMs: min, latencyMaxMs: max}),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen({port: 0, host: '127.0.0.1', backlog: 4096}, () => {
    process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
