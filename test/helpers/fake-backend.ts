// A real HTTP model server on loopback whose behaviour is chosen per model name, recording every
// matrix it receives. Healthy models answer with DESIGN §4's exact formula.
//
//   fail500      always 500                      reset      destroys the socket
//   flaky503     503 on its first call, then ok   slow       answers after `slowMs`
//   nonjson      200 with a body that is not JSON  wronglen   one value too few
//   nan          a non-number in the vector         poison     422 for any matrix holding a row
//                                                              whose first value is 666
//   nullrow      null for each row whose first value is 13, the formula for the others
//   huge         200 streaming a body of `hugeBytes` (default 64 MiB), chunked, no length
//   liar         200 declaring Content-Length 1 GB, then a short body

import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';
import {predictMatrix} from '../../src/simulator/formula.ts';
import {readBackendRequest} from './local-server.ts';

export interface Received {
  readonly model: string;
  readonly agentType: string;
  readonly vectors: number[][];
  readonly status: number;
  /** Epoch ms when the call arrived. */
  readonly at: number;
}

export interface FakeBackend {
  readonly url: string;
  readonly received: Received[];
  /** Calls per model. */
  calls(model: string): Received[];
  close(): Promise<void>;
}

export async function startFakeBackend(
  options: {latencyMs?: number; slowMs?: number; hugeBytes?: number} = {},
): Promise<FakeBackend> {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(async (req, res) => {
    const body = await readBackendRequest(req);
    const at = Date.now();
    const n = (seen.get(body.model) ?? 0) + 1;
    seen.set(body.model, n);
    const reply = (status: number, payload: string) => {
      received.push({model: body.model, agentType: body.agent_type, vectors: body.vectors, status, at});
      res.writeHead(status, {'content-type': 'application/json'});
      res.end(payload);
    };
    const good = () => JSON.stringify({vector: predictMatrix(body.model, body.agent_type, body.vectors)});
    if (options.latencyMs) await sleep(options.latencyMs);
    switch (body.model) {
      case 'fail500':
        return reply(500, '{"error":"boom"}');
      case 'flaky503':
        return n === 1 ? reply(503, '{"error":"warming up"}') : reply(200, good());
      case 'reset':
        received.push({model: body.model, agentType: body.agent_type, vectors: body.vectors, status: 0, at});
        return req.socket.destroy();
      case 'slow':
        await sleep(options.slowMs ?? 1000);
        return reply(200, good());
      case 'nonjson':
        return reply(200, '<html>oops</html>');
      case 'wronglen':
        return reply(200, JSON.stringify({vector: predictMatrix(body.model, body.agent_type, body.vectors).slice(1)}));
      case 'nan':
        return reply(200, JSON.stringify({vector: body.vectors.map((_, i) => (i === 0 ? 'x' : 1))}));
      case 'nullrow': {
        const values = predictMatrix(body.model, body.agent_type, body.vectors);
        return reply(200, JSON.stringify({vector: values.map((v, i) => (body.vectors[i][0] === 13 ? null : v))}));
      }
      case 'huge': {
        received.push({model: body.model, agentType: body.agent_type, vectors: body.vectors, status: 200, at});
        res.writeHead(200, {'content-type': 'application/json'});
        const chunk = Buffer.alloc(1 << 20, 0x31);
        res.write('{"vector": [');
        for (let sent = 0; sent < (options.hugeBytes ?? 64 << 20) && !res.destroyed; sent += chunk.length) {
          if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]).catch(() => {});
        }
        return res.end(']}');
      }
      case 'liar':
        received.push({model: body.model, agentType: body.agent_type, vectors: body.vectors, status: 200, at});
        res.writeHead(200, {'content-type': 'application/json', 'content-length': String(1e9)});
        res.write('{"vector": [1]}');
        return;
      case 'poison':
        if (body.vectors.some((row) => row[0] === 666)) return reply(422, '{"error":"poisoned row"}');
        return reply(200, good());
      default:
        return reply(200, good());
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const {port} = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/predict`,
    received,
    calls: (model) => received.filter((r) => r.model === model),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
