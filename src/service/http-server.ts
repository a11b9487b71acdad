// The node:http server the Koa app runs in: timeouts that let an answer take its whole deadline
// while a request's headers and body must arrive promptly, a cap on open connections, a deep
// accept queue, and a way to wait until every answer being written has gone out (the drain waits
// for it before closing the sockets). It can listen before the app exists (main.ts binds the port
// first, so a big pool's start is seen): until the app is served, /healthz answers 200, /readyz
// 503 starting, and every other request is held and handed to the app once it is.

import {once} from 'node:events';
import type http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Logger} from 'pino';
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

/** The line a user waits for: where to send requests, and the pid to stop (README, "Stopping"). */
export function listeningLine(log: Logger, address: AddressInfo): void {
  log.info({address: `${address.address}:${address.port}`, pid: process.pid}, 'listening');
}

export class AnswerServer {
  readonly server: http.Server;
  #answering = 0;
  readonly #written: (() => void)[] = [];
  #handler: http.RequestListener | undefined;
  /** Requests that came before the app: handed to it by serve(). */
  readonly #held: [http.IncomingMessage, http.ServerResponse][] = [];

  /**
   * @param handler the app; undefined until serve() is called
   * @param maxConnections past this many open connections new ones are closed at once
   */
  constructor(handler: http.RequestListener | undefined, maxConnections: number) {
    this.#handler = handler;
    const server = createServer((req, res) => {
      if (this.#handler) this.#handler(req, res);
      else this.#beforeApp(req, res);
    });
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

  /** The app from now on, with the requests held until it came. */
  serve(handler: http.RequestListener): void {
    this.#handler = handler;
    for (const [req, res] of this.#held.splice(0)) handler(req, res);
  }

  #beforeApp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
      const [status, body] = path === '/healthz' ? [200, 'ok'] : [503, 'starting'];
      res.writeHead(status, {'content-type': 'application/json; charset=utf-8'});
      res.end(JSON.stringify({status: body}));
    } else {
      this.#held.push([req, res]);
    }
  }

  /**
   * Listens (unless it already does); resolves with the bound address, rejects when the port
   * cannot be had.
   */
  async listen(port: number, host: string): Promise<AddressInfo> {
    if (!this.server.listening) {
      this.server.listen({port, host, backlog: listenBacklog});
      await once(this.server, 'listening');
    }
    return this.server.address() as AddressInfo;
  }

  /** Resolves when no answer is being written, or after `limitMs`. */
  async written(limitMs: number): Promise<void> {
    if (this.#answering === 0) return;
    const written = new Promise<void>((resolve) => this.#written.push(resolve));
    await raceTimeout(written, limitMs, giveUp);
  }
}
