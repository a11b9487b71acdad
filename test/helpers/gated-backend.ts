// An HTTP model server (our protocol) on loopback that holds every call until the test opens its
// gate, then answers each with DESIGN §4's formula. Tests use it to keep agents in flight for as
// long as they need, instead of a simulated latency they would have to outrun.

import http from 'node:http';
import {predictMatrix} from '../../src/simulator/formula.ts';
import {listenLocal, readBackendRequest} from './local-server.ts';

export interface GatedBackend {
  readonly url: string;
  /** Calls held at the gate now. */
  readonly waiting: number;
  /** Rows received so far, all calls. */
  readonly rows: number;
  /** Answers every held call, and every later one at once. */
  open(): void;
  /** Holds later calls again. */
  shut(): void;
  close(): Promise<void>;
}

export async function startGatedBackend(): Promise<GatedBackend> {
  let held: (() => void)[] = [];
  let isOpen = false;
  let rows = 0;
  const server = http.createServer(async (req, res) => {
    const body = await readBackendRequest(req);
    rows += body.vectors.length;
    const answer = () => {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({vector: predictMatrix(body.model, body.agent_type, body.vectors)}));
    };
    if (isOpen) answer();
    else held.push(answer);
  });
  const release = () => {
    const now = held;
    held = [];
    for (const answer of now) answer();
  };
  const local = await listenLocal(server, release);
  return {
    url: local.url,
    get waiting() {
      return held.length;
    },
    get rows() {
      return rows;
    },
    open() {
      isOpen = true;
      release();
    },
    shut() {
      isOpen = false;
    },
    close: local.close,
  };
}
