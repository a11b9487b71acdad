// Baseline (a): raw node:http that parses the JSON and computes the formula inline, no batching,
// no validation beyond what the computation needs. The runtime's limit.
// With HOLD=1 it holds each request for the backend's delay before answering: the floor of
// memory and GC per open request for the seed's load. The delay is its own
// (BACKEND_LATENCY_MIN_MS..MAX_MS), or, with BACKEND_URL set, one call to that backend per request
// carrying all the request's rows (no batching across requests; the answer is still computed
// here), so that the bench's recording backend measures it like the other servers.

import http from 'node:http';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {holding, holdMs} from './hold.ts';

interface Agent {
  vector: number[];
  model: string;
  agent_type: string;
}

const backendUrl = process.env.BACKEND_URL ? new URL(process.env.BACKEND_URL) : undefined;
const agent = new http.Agent({keepAlive: true, maxSockets: Number.POSITIVE_INFINITY});
let seq = 0;

/** One backend call with these rows; `done` once it has answered (or failed: this is a baseline). */
function callBackend(agents: Agent[], done: () => void): void {
  const body = JSON.stringify({model: agents[0].model, agent_type: agents[0].agent_type, vectors: agents.map((a) => a.vector)});
  const req = http.request(backendUrl as URL, {method: 'POST', agent, headers: {'content-type': 'application/json'}}, (res) => {
    res.resume();
    res.on('end', done);
  });
  req.on('error', done);
  req.end(body);
}

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
    for (const [id, a] of Object.entries(body.agents ?? {})) {
      results[id] = {prediction: predictRow(bias(a.model, a.agent_type), a.vector)};
    }
    const answer = JSON.stringify({request_id: String(++seq), errors: false, results});
    const send = () => {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(answer);
    };
    if (holding && backendUrl) callBackend(Object.values(body.agents ?? {}), send);
    else if (holding) setTimeout(send, holdMs());
    else send();
  });
});
server.listen({port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096}, () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
