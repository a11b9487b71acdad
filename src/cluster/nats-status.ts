// What a cluster node says about its NATS connection, and what it checks of it at start.
//
//   connecting, not yet reached     warn after 2 s, then every 10 s: which servers (never their
//                                   credentials), how long; a gateway's /readyz is 503 meanwhile
//   connection lost                 one warn; then, while it retries, one warn per 10 s
//   reconnected                     one info line, with how long it was down
//   NATS refused a subject          an error naming CLUSTER_NODE, the operation and the subject
//                                   (at most one per 10 s): the node's credentials do not allow
//                                   the subjects its name implies (scripts/nats/cluster.conf)
//
// At start each role subscribes (and an actor host publishes its first heartbeat), then asks
// permissionProblem: NATS answers a refused subject before the PONG of a flush, so by then it is
// known. An actor host refuses to start; a gateway logs it and stays not ready.

import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';

/** The interval of the repeated lines. */
export const natsLogIntervalMs = 10_000;

/** While `connecting` is pending, warns that NATS is not reached yet (after 2 s, then every 10 s). */
export function warnWhileConnecting<T>(connecting: Promise<T>, servers: readonly string[], log: Logger): Promise<T> {
  const started = Date.now();
  let repeat: NodeJS.Timeout | undefined;
  const warn = () =>
    log.warn(
      {servers, waitedMs: Date.now() - started},
      'cannot reach NATS yet: retrying (a gateway is not ready until then; with TLS, the server certificate must name the host of NATS_URL, and nats-server logs why a handshake failed)',
    );
  const first = setTimeout(() => {
    warn();
    repeat = setInterval(warn, natsLogIntervalMs);
    repeat.unref();
  }, 2000);
  first.unref();
  return connecting.finally(() => {
    clearTimeout(first);
    clearInterval(repeat);
  });
}

/** A subject NATS refused this node. */
export interface RefusedSubject {
  readonly operation: string;
  readonly subject: string;
}

/** Watches a connection's status: logs it (bounded), and remembers the first subject NATS refused. */
export class NatsStatus {
  readonly #log: Logger;
  readonly #node: string;
  #refused: RefusedSubject | undefined;
  #lostAt: number | undefined;
  #lastRetryLine = 0;
  #lastRefusalLine = Number.NEGATIVE_INFINITY;

  constructor(nc: NatsConnection, node: string, log: Logger) {
    this.#log = log;
    this.#node = node;
    void (async () => {
      for await (const status of nc.status()) this.#status(status);
    })().catch(() => {});
  }

  /** The first subject NATS refused, if any. */
  get refused(): RefusedSubject | undefined {
    return this.#refused;
  }

  /** After the subscriptions (and first publications) of a start: why they do not hold, if they do not. */
  async permissionProblem(nc: NatsConnection): Promise<string | undefined> {
    await nc.flush().catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    const refused = this.#refused;
    if (!refused) return undefined;
    return (
      `CLUSTER_NODE=${this.#node}: NATS refused to ${refused.operation === 'publish' ? 'publish to' : 'subscribe to'} ` +
      `${refused.subject}: the credentials of NATS_URL / NATS_CREDS do not allow the subjects this node name uses ` +
      '(README, "Scaling out": locked down; scripts/nats/cluster.conf)'
    );
  }

  #status(status: {type: string; server?: unknown; error?: unknown}): void {
    const now = Date.now();
    const server = typeof status.server === 'string' ? status.server : undefined;
    switch (status.type) {
      case 'ping':
      case 'update':
        return;
      case 'disconnect':
        this.#lostAt = now;
        this.#lastRetryLine = now;
        this.#log.warn({server}, 'lost the NATS connection: reconnecting (a gateway is not ready meanwhile)');
        return;
      case 'reconnecting':
        if (now - this.#lastRetryLine < natsLogIntervalMs) return;
        this.#lastRetryLine = now;
        this.#log.warn({downMs: now - (this.#lostAt ?? now)}, 'still cannot reach NATS: retrying');
        return;
      case 'reconnect':
        this.#log.info({server, downMs: now - (this.#lostAt ?? now)}, 'reconnected to NATS');
        this.#lostAt = undefined;
        return;
      case 'error':
        this.#error(status.error, now);
        return;
      default:
        this.#log.warn({nats: status.type}, 'NATS connection status');
    }
  }

  #error(error: unknown, now: number): void {
    const e = error as {name?: unknown; operation?: unknown; subject?: unknown; message?: unknown};
    if (e?.name !== 'PermissionViolationError') {
      this.#log.warn({nats: 'error', message: String(e?.message ?? error)}, 'NATS reported an error');
      return;
    }
    const refused = {operation: String(e.operation), subject: String(e.subject)};
    this.#refused ??= refused;
    if (now - this.#lastRefusalLine < natsLogIntervalMs) return;
    this.#lastRefusalLine = now;
    this.#log.error(
      {...refused, node: this.#node},
      'NATS refused a subject: this node’s credentials do not allow what CLUSTER_NODE implies',
    );
  }
}
