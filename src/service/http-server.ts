// The node:http server the Koa app runs in: timeouts that let an answer take its whole deadline
// while a request's headers and body must arrive promptly, a cap on open connections, a deep
// accept queue, and a way to wait until every answer being written has gone out (the drain waits
// for it before closing the sockets).

import {once} from 'node:events';
import type http from 'node:http';
import type {AddressInfo} from 'node:net';
import {giveUp, raceTimeout} from '../race-timeout.ts';

/** A request's headers and body must arrive promptly; its answer may take the whole deadline. */
const headersTimeoutMs = 20_000;
const requestTimeoutMs = 60_000;
const keepAliveTimeoutMs = 5_000;
/** A deep accept queue: thousands of clients may connect at once (the kernel caps it at somaxconn). */
const listenBacklog = 4096;

// Not `import http from 'node:http'`: an ESM import of node:http reads every one of its exports,
// and its WebSocket getters load Node's bundled undici (about 50 ms of start-up, measured).
const {createServer} = process.getBuiltinModule('node:http');

export class AnswerServer {
  readonly server: http.Server;
  #answering = 0;
  readonly #written: (() => void)[] = [];

  /** @param maxConnections past this many open connections new ones are closed at once */
  constructor(handler: http.RequestListener, maxConnections: number) {
    const server = createServer(handler);
    server.headersTimeout = headersTimeoutMs;
    server.requestTimeout = requestTimeoutMs;
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.maxConnections = maxConnections;
    server.on('request', (_req, res) => {
      this.#answering++;
      res.once('close', () => {
        if (--this.#answering === 0) for (const wake of this.#written.splice(0)) wake();
      });
    });
    this.server = server;
  }

  /** Listens; resolves with the bound address, rejects when the port cannot be had. */
  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen({port, host, backlog: listenBacklog});
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /** Resolves when no answer is being written, or after `limitMs`. */
  async written(limitMs: number): Promise<void> {
    if (this.#answering === 0) return;
    const written = new Promise<void>((resolve) => this.#written.push(resolve));
    await raceTimeout(written, limitMs, giveUp);
  }
}
