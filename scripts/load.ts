// `npm run load`: a mixed multi-agent load against any running instance (usage below), with
// progress and a summary, like the seed's locust script.

import {quantile, runLoad} from './load-generator.ts';
import {mixedPlan} from './load-plan.ts';
import {fail, parseCli, positive} from './cli.ts';
import {servedKeys} from './served.ts';

/** The longest a request takes against the default simulated backend: its 7 s call and the window. */
const expectedLatencyS = 8;

const usage = `
npm run load -- [--url URL[,URL…]] [--rate N] [--duration S] [--clients N] [--agents N] [--length N] [--key TOKEN] [--no-check]

Sends multi-agent requests to a running agent-batcher (or several front ends, round-robin) and
prints a summary. Each request's agents use the keys the service serves (GET /models: with
MODELS_FILE=examples/models.json, its models, agent types and vector lengths).

  --url       the service (default http://127.0.0.1:8000, or AGENT_BATCHER_URL)
  --rate      open loop at N requests/s; without it, a closed loop of --clients clients
  --duration  seconds (default 30)
  --clients   closed loop: clients sending back to back (default 256); open loop: requests in
              flight at most (default rate × ${expectedLatencyS} s, the simulated backend's slowest call;
              the summary says when the cap held the rate back)
  --agents    agents per request (default 4)
  --length    floats per vector where the registry fixes none (default 16)
  --key       bearer token when the service has API_KEYS (or AGENT_BATCHER_KEY)
  --no-check  do not check every 10th answer against the simulated formula (a real backend)
`;

const values = parseCli('load', usage, {
  url: {type: 'string', default: process.env.AGENT_BATCHER_URL ?? 'http://127.0.0.1:8000'},
  rate: {type: 'string'},
  duration: {type: 'string', default: '30'},
  clients: {type: 'string'},
  agents: {type: 'string', default: '4'},
  length: {type: 'string', default: '16'},
  key: {type: 'string', default: process.env.AGENT_BATCHER_KEY},
  check: {type: 'boolean', default: true},
});
const rate = values.rate === undefined ? undefined : positive('load', 'rate', values.rate);
const clients =
  values.clients !== undefined
    ? positive('load', 'clients', values.clients)
    : rate
      ? Math.ceil(rate * expectedLatencyS)
      : 256;
const seconds = positive('load', 'duration', values.duration);
const agents = positive('load', 'agents', values.agents);
const length = positive('load', 'length', values.length);
const urls = values.url.split(',').map((u) => u.trim().replace(/\/$/, ''));
for (const u of urls)
  if (!/^https?:\/\/[^/]+$/.test(u)) fail('load', `--url must be http://host:port (got ${JSON.stringify(u)})`, 2);
const keys = await servedKeys('load', urls[0]);

const cap = rate
  ? `, at most ${clients} in flight${values.clients === undefined ? ` (rate × ${expectedLatencyS} s)` : ''}`
  : '';
console.log(
  `load: ${urls.map((u) => `${u}/predict`).join(' + ')} for ${seconds} s, ${rate ? `open loop at ${rate} req/s${cap}` : `closed loop, ${clients} clients`}, ${agents} agents per request over ${keys.length} keys`,
);
const result = await runLoad({
  url: urls.join(','),
  clients,
  rate,
  durationMs: seconds * 1000,
  plan: mixedPlan({agents, length, keys}),
  headers: values.key ? {authorization: `Bearer ${values.key}`} : {},
  checkEvery: values.check ? 10 : 0,
  label: 'load',
});
/** What the service said when it refused: the first error body of each status. */
const said = Object.entries(result.firstErrors).map(([status, body]) => `${status}: ${body}`);
if (result.requests === 0 && result.errors > 0)
  fail(
    'load',
    `no request was answered: ${JSON.stringify(result.statuses)} (is the service still running at ${urls.join(', ')}?)`,
  );
const s = result.durationMs / 1000;
let rows = 0;
for (const size of result.batches.values()) rows += size;
const ms = (q: number) => `${quantile(result.latencies, q).toFixed(1)} ms`;
const lines = [
  // Sent for `seconds`, then the last answers awaited (up to a backend call more): both rates.
  `requests      ${result.requests} answered, agents ${result.agents}: ${(result.requests / seconds).toFixed(1)} req/s over the ${seconds} s of sending, ${(result.requests / s).toFixed(1)} req/s over the whole ${s.toFixed(1)} s (the last answers awaited)`,
  `statuses      ${JSON.stringify(result.statuses)}`,
  `latency       p50 ${ms(0.5)}, p90 ${ms(0.9)}, p99 ${ms(0.99)}, max ${(result.latencies[result.latencies.length - 1] ?? NaN).toFixed(1)} ms`,
  `batches seen  ${result.batches.size}, mean size ${(rows / Math.max(1, result.batches.size)).toFixed(1)}${urls.length > 1 ? `, ${result.sharedAcrossUrls} carried rows sent to more than one of the ${urls.length} front ends` : ''}`,
  `checked       ${values.check ? `every 10th answer against the simulated formula: ${result.wrongPredictions} wrong` : 'not checked (--no-check)'}`,
  `errors        ${result.errors}`,
  ...said.map((line) => `  first ${line}`),
];
if (result.notSent > 0) {
  lines.push(
    `in flight     the cap of ${clients} was full: ${result.notSent} requests of the schedule were not sent, so the rate delivered is below ${rate}/s (raise --clients)`,
  );
}
if (result.statuses.EMFILE)
  lines.push('open files    the open-file limit was reached: raise it (`ulimit -n`) or lower --clients');
console.log(`\n${lines.join('\n')}`);
process.exitCode = result.errors > 0 || result.wrongPredictions > 0 ? 1 : 0;
