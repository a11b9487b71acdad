// `npm run predict [-- --url http://host:8000] [--agents N] [--key TOKEN] [--stream]`
// Sends one random multi-agent request to a running service and prints the response, like the
// seed's requests-library script. With --stream, asks for streamed answers and prints each line
// as it arrives, with its time.

import {parseArgs} from 'node:util';

const {values} = parseArgs({
  options: {
    url: {type: 'string', default: process.env.AGENT_BATCHER_URL ?? 'http://127.0.0.1:8000'},
    agents: {type: 'string', default: '4'},
    key: {type: 'string', default: process.env.AGENT_BATCHER_KEY},
    stream: {type: 'boolean', default: false},
  },
});

const models = ['resnet-50', 'gpt-mini', 'bert-base'];
const agentTypes = ['scout', 'pilot'];
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
const count = Math.max(1, Number(values.agents) || 4);

const agents = Object.fromEntries(
  Array.from({length: count}, (_, i) => {
    const agentType = pick(agentTypes);
    const length = 2 + Math.floor(Math.random() * 4);
    const vector = Array.from({length}, () => Math.round((Math.random() * 4 - 2) * 100) / 100);
    return [`${agentType}-${i + 1}`, {vector, model: pick(models), agent_type: agentType}];
  }),
);

const body = {agents};
console.log(`POST ${values.url}/predict`);
console.log(JSON.stringify(body, null, 2));
const started = performance.now();
const response = await fetch(`${values.url.replace(/\/$/, '')}/predict`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    ...(values.key ? {authorization: `Bearer ${values.key}`} : {}),
    ...(values.stream ? {accept: 'application/x-ndjson'} : {}),
  },
  body: JSON.stringify(body),
});
if (values.stream && response.headers.get('content-type')?.startsWith('application/x-ndjson') && response.body) {
  console.log(`\n${response.status} ${response.statusText} after ${Math.round(performance.now() - started)} ms; lines as they come:`);
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    for (const line of decoder.decode(chunk, {stream: true}).split('\n')) {
      if (line) console.log(`+${String(Math.round(performance.now() - started)).padStart(5)} ms  ${line}`);
    }
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
