// Baseline (c): what a Node user would pick instead. The same Koa + zod front end, and an
// in-process batcher built on DataLoader: one loader per (agent_type, model, vector length),
// batches cut at MAX_BATCH_SIZE or MAX_WAIT_MS after the first row, no worker threads. The
// backend is the same simulated network (in-process) or the same HTTP backend (BACKEND_URL).

import DataLoader from 'dataloader';
import {setTimeout as sleep} from 'node:timers/promises';
import {request} from 'undici';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {sampleLatencyMs} from '../../src/simulator/latency.ts';
import {loadConfig} from '../../src/config.ts';
import {serveKoaFront} from './koa-front.ts';

const config = loadConfig(process.env);
const {maxBatchSize} = config.batching;
// DataLoader has one fixed window: MAX_WAIT_MS as a number (the bench sets it), 20 ms for `auto`.
const maxWaitMs = typeof config.batching.maxWaitMs === 'number' ? config.batching.maxWaitMs : 20;

interface Row {
  model: string;
  agentType: string;
  vector: readonly number[];
}
interface RowResult {
  prediction: number;
  batch: {id: string; size: number};
}

let batchSeq = 0;
async function callBackend(rows: readonly Row[]): Promise<number[]> {
  const {model, agentType} = rows[0];
  if (config.backend.kind === 'http') {
    const response = await request(config.backend.url, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({model, agent_type: agentType, vectors: rows.map((r) => r.vector)}),
    });
    return ((await response.body.json()) as {vector: number[]}).vector;
  }
  await sleep(sampleLatencyMs(config));
  const b = bias(model, agentType);
  return rows.map((r) => predictRow(b, r.vector));
}

const loaders = new Map<string, DataLoader<Row, RowResult>>();
function loaderFor(row: Row): DataLoader<Row, RowResult> {
  const key = `${row.agentType}\n${row.model}\n${row.vector.length}`;
  let loader = loaders.get(key);
  if (!loader) {
    loader = new DataLoader<Row, RowResult>(
      async (rows) => {
        const values = await callBackend(rows);
        const batch = {id: `dl-${++batchSeq}`, size: rows.length};
        return values.map((prediction) => ({prediction, batch}));
      },
      {cache: false, maxBatchSize, batchScheduleFn: (callback) => setTimeout(callback, maxWaitMs)},
    );
    loaders.set(key, loader);
  }
  return loader;
}

serveKoaFront(config, (agents) =>
  Promise.all(
    agents.map((a) => {
      const row = {model: a.model, agentType: a.agentType, vector: a.vector as number[]};
      return loaderFor(row).load(row);
    }),
  ),
);
