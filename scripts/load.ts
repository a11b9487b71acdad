// `npm run load -- [--url http://127.0.0.1:8000[,http://…]] [--rate 200] [--duration 30] [--clients 256]
//                  [--agents 4] [--length 16] [--key TOKEN] [--no-check]`
// Points a mixed multi-agent load (3 models × 2 agent types) at any running instance, shows
// progress, and prints a summary, like the seed's locust script. With --rate it is an open loop
// at that many requests per second (at most --clients in flight); without, a closed loop of
// --clients clients sending back to back.

import {parseArgs} from 'node:util';
import {mixedPlan, quantile, runLoad} from '../bench/load.ts';

const {values} = parseArgs({
  options: {
    url: {type: 'string', default: process.env.AGENT_BATCHER_URL ?? 'http://127.0.0.1:8000'},
    rate: {type: 'string'},
    duration: {type: 'string', default: '30'},
    clients: {type: 'string', default: '256'},
    agents: {type: 'string', default: '4'},
    length: {type: 'string', default: '16'},
    key: {type: 'string', default: process.env.AGENT_BATCHER_KEY},
    // --no-check against an instance whose backend is not the simulated network.
    check: {type: 'boolean', default: true},
  },
  allowNegative: true,
});
const positive = (name: string, value: string | undefined) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number (got ${value})`);
    process.exit(2);
  }
  return n;
};
const rate = values.rate === undefined ? undefined : positive('rate', values.rate);
const clients = positive('clients', values.clients);
const seconds = positive('duration', values.duration);
const url = values.url
  .split(',')
  .map((u) => u.trim().replace(/\/$/, ''))
  .join(',');
const fronts = url.split(',').length;

console.log(`load: ${url.split(',').map((u) => `${u}/predict`).join(' + ')} for ${seconds} s, ${rate ? `open loop at ${rate} req/s (≤ ${clients} in flight)` : `closed loop, ${clients} clients`}, ${values.agents} agents × ${values.length} floats per request`);
const result = await runLoad({
  url,
  clients,
  rate,
  durationMs: seconds * 1000,
  plan: mixedPlan({agents: positive('agents', values.agents), length: positive('length', values.length)}),
  headers: values.key ? {authorization: `Bearer ${values.key}`} : {},
  checkEvery: values.check ? 10 : 0,
  label: 'load',
});
const s = result.durationMs / 1000;
let rows = 0;
for (const size of result.batches.values()) rows += size;
const ms = (q: number) => `${quantile(result.latencies, q).toFixed(1)} ms`;
console.log(`
requests      ${result.requests} (${(result.requests / s).toFixed(1)} req/s), agents ${result.agents} (${(result.agents / s).toFixed(1)}/s)
statuses      ${JSON.stringify(result.statuses)}
latency       p50 ${ms(0.5)}, p90 ${ms(0.9)}, p99 ${ms(0.99)}, max ${(result.latencies[result.latencies.length - 1] ?? NaN).toFixed(1)} ms
batches seen  ${result.batches.size}, mean size ${(rows / Math.max(1, result.batches.size)).toFixed(1)}${fronts > 1 ? `, ${result.sharedAcrossUrls} carried rows sent to more than one of the ${fronts} front ends` : ''}
checked       ${values.check ? `every 10th answer against the simulated formula: ${result.wrongPredictions} wrong` : 'not checked (--no-check)'}
errors        ${result.errors}`);
process.exitCode = result.errors > 0 || result.wrongPredictions > 0 ? 1 : 0;
