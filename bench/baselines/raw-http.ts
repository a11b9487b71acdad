// Baseline (a): raw node:http that parses the JSON and computes the formula inline, no batching,
// no validation beyond what the computation needs. The runtime's limit.

import http from 'node:http';
import {bias, predictRow} from '../../src/simulator/formula.ts';

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
    for (const [id, a] of Object.entries(body.agents ?? {})) {
      results[id] = {prediction: predictRow(bias(a.model, a.agent_type), a.vector)};
    }
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify({request_id: String(++seq), errors: false, results}));
  });
});
server.listen({port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096}, () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
