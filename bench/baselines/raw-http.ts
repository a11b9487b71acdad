// Baseline (a): raw node:http that parses the JSON and computes the formula inline, no batching,
// no validation beyond what the computation needs. The runtime's limit.
// With HOLD=1 it holds each request for the backend's delay (the slowest of one draw per mailbox
// key among its agents, see hold.ts) before answering, and says in `x-held-ms` what delay it
// drew, so that the bench takes its added latency as it does the others': the client's latency
// less the backend's. The floor of memory, GC and added latency per open request for the seed's
// load. (It does not call a real
// backend: one call per request would need a second socket per open request, past this machine's
// limit of 20,000 open files at 10,000 clients.)

import http from 'node:http';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {keyString} from '../../src/protocol/mailbox-key.ts';
import {holding, holdMs} from './hold.ts';

interface Agent {
  vector: number[];
  model: string;
  agent_type: string;
}

let seq = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, {'content-type': 'application/json'}).end('{"status":"ok"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: {agents?: Record<string, Agent>};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, {'content-type': 'application/json'}).end('{"error":{"code":"invalid_json"}}');
      return;
    }
    const results: Record<string, unknown> = {};
    const agents = Object.entries(body.agents ?? {});
    for (const [id, a] of agents) {
      results[id] = {prediction: predictRow(bias(a.model, a.agent_type), a.vector)};
    }
    const answer = JSON.stringify({request_id: String(++seq), errors: false, results});
    const send = () => {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(answer);
    };
    if (holding) {
      const ms = holdMs(agents.map(([, a]) => keyString(a.agent_type, a.model)));
      setTimeout(() => {
        res.setHeader('x-held-ms', ms.toFixed(1));
        send();
      }, ms);
    } else send();
  });
});
server.listen({port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096}, () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
