// `npm run predict`: one random multi-agent request to a running service, printed with its answer
// (usage below), like the seed's requests-library script.

import {fail, parseCli, positive, unreachable} from './cli.ts';
import {servedKeys} from './served.ts';

const usage = `
npm run predict -- [--url URL] [--agents N] [--key TOKEN] [--stream]

Sends one request of random agents to a running agent-batcher and prints it and the answer.
The agents use the keys the service serves (GET /models: with MODELS_FILE=examples/models.json,
its models, agent types and vector lengths).

  --url     the service (default http://127.0.0.1:8000, or AGENT_BATCHER_URL)
  --agents  agents in the request (default 4)
  --key     bearer token when the service has API_KEYS (or AGENT_BATCHER_KEY)
  --stream  ask for streamed answers (NDJSON) and print each line with the time it arrived
`;

const values = parseCli('predict', usage, {
  url: {type: 'string', default: process.env.AGENT_BATCHER_URL ?? 'http://127.0.0.1:8000'},
  agents: {type: 'string', default: '4'},
  key: {type: 'string', default: process.env.AGENT_BATCHER_KEY},
  stream: {type: 'boolean', default: false},
});
const url = values.url.replace(/\/$/, '');
if (!/^https?:\/\/[^/]+$/.test(url))
  fail('predict', `--url must be http://host:port (got ${JSON.stringify(values.url)})`, 2);
const count = positive('predict', 'agents', values.agents);
const keys = await servedKeys('predict', url);

const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)];
const agents = Object.fromEntries(
  Array.from({length: count}, (_, i) => {
    const key = pick(keys);
    const length = key.vectorLength ?? 2 + Math.floor(Math.random() * 4);
    const vector = Array.from({length}, () => Math.round((Math.random() * 4 - 2) * 100) / 100);
    return [`${key.agentType}-${i + 1}`, {vector, model: key.model, agent_type: key.agentType}];
  }),
);

const body = {agents};
console.log(`POST ${url}/predict`);
console.log(JSON.stringify(body, null, 2));
const started = performance.now();
const response = await fetch(`${url}/predict`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    ...(values.key ? {authorization: `Bearer ${values.key}`} : {}),
    ...(values.stream ? {accept: 'application/x-ndjson'} : {}),
  },
  body: JSON.stringify(body),
}).catch((error: unknown) => fail('predict', unreachable(url, error)));
if (values.stream && response.headers.get('content-type')?.startsWith('application/x-ndjson') && response.body) {
  console.log(
    `\n${response.status} ${response.statusText} after ${Math.round(performance.now() - started)} ms; lines as they come:`,
  );
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of response.body) {
    const lines = (rest + decoder.decode(chunk, {stream: true})).split('\n');
    rest = lines.pop()!;
    for (const line of lines)
      if (line) console.log(`+${String(Math.round(performance.now() - started)).padStart(5)} ms  ${line}`);
  }
  process.exit(0);
}
const text = await response.text();
console.log(`\n${response.status} ${response.statusText} after ${Math.round(performance.now() - started)} ms`);
try {
  console.log(JSON.stringify(JSON.parse(text), null, 2));
} catch {
  console.log(text);
}
process.exitCode = response.ok ? 0 : 1;
