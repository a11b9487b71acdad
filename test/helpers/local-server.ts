// What the tests' own HTTP servers share: listening on a free loopback port, closing with every
// connection cut, and reading a request in our backend protocol.

import type http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';

/** A started server's address and how to stop it (open connections cut, not waited for). */
export interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on a free loopback port; `close` runs `beforeClose` first (e.g. answering held calls). */
export async function listenLocal(server: http.Server, beforeClose: () => void = () => {}): Promise<LocalServer> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      beforeClose();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A request body in our backend protocol (DESIGN §4). */
export interface BackendRequest {
  model: string;
  agent_type: string;
  vectors: number[][];
}

export async function readBackendRequest(req: http.IncomingMessage): Promise<BackendRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as BackendRequest;
}
