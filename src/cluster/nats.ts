// The NATS side of the cluster roles: the connection (credentials taken out of NATS_URL, never
// logged), the subjects, and the timings of membership. Loaded only by the cluster roles, so a
// single process never pays for the NATS client.
//
//   <prefix>.members                  actor hosts' heartbeats (every heartbeatMs), and their last word
//   <prefix>.host.<host>.<thread>     a gateway's dispatch / withdraw frames for one actor thread
//   <prefix>.gateway.<gateway>        an actor host's results frames for one gateway

import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {connect, credsAuthenticator} from '@nats-io/transport-node';
import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {NatsOptions} from '../config.ts';
import {decode} from '../protocol/codec.ts';
import type {WireMessage} from '../protocol/codec.ts';
import {redactUrl} from '../redact.ts';

export const heartbeatMs = 400;
/** A member not heard from for this long is gone: what it held fails with worker_failed. */
export const memberTimeoutMs = 1500;

export const subjects = (prefix: string) => ({
  members: `${prefix}.members`,
  thread: (host: string, thread: number) => `${prefix}.host.${host}.${thread}`,
  hostThreads: (host: string) => `${prefix}.host.${host}.*`,
  gateway: (gateway: string) => `${prefix}.gateway.${gateway}`,
});

/** A short id, unique in the cluster for the life of a process (hex: no '.', '-' or '*'). */
export function nodeId(): string {
  return randomBytes(5).toString('hex');
}

/** The servers of NATS_URL and the credentials they carried (user:pass@ or token@). */
export function natsServers(url: string): {servers: string[]; user?: string; pass?: string; token?: string} {
  let user: string | undefined;
  let pass: string | undefined;
  let token: string | undefined;
  const servers = url.split(',').map((raw) => {
    const u = new URL(raw.trim());
    if (u.username && u.password) {
      user = decodeURIComponent(u.username);
      pass = decodeURIComponent(u.password);
    } else if (u.username) token = decodeURIComponent(u.username);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  });
  return {servers, user, pass, token};
}

/** Connects, reconnecting forever; status changes go to the log (without credentials). */
export async function connectNats(options: NatsOptions, name: string, log: Logger): Promise<NatsConnection> {
  const {servers, user, pass, token} = natsServers(options.url);
  const creds = options.credsFile ? readFileSync(options.credsFile) : undefined;
  const nc = await connect({
    servers,
    user,
    pass,
    token: token ?? options.token,
    ...(creds && {authenticator: credsAuthenticator(new Uint8Array(creds))}),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'ping' || status.type === 'update') continue;
      log.warn({nats: status.type, server: redactUrl(String((status as {server?: unknown}).server ?? ''))}, 'NATS connection status');
    }
  })().catch(() => {});
  log.info({servers}, 'connected to NATS');
  return nc;
}

/**
 * Frames on NATS, the same for both roles: publishing never throws (a closed or draining
 * connection is logged; deadlines answer what was lost), and a frame that cannot be read (another
 * protocol version, or not ours) is dropped with one error line per subject.
 */
export class Wire {
  readonly #connection: () => NatsConnection | undefined;
  readonly #log: Logger;
  readonly #refusedFrom = new Set<string>();

  constructor(connection: () => NatsConnection | undefined, log: Logger) {
    this.#connection = connection;
    this.#log = log;
  }

  publish(subject: string, bytes: Uint8Array): void {
    try {
      this.#connection()?.publish(subject, bytes);
    } catch (error) {
      this.#log.warn({err: error, subject}, 'could not publish to NATS');
    }
  }

  read(subject: string, bytes: Uint8Array): WireMessage | undefined {
    const decoded = decode(bytes);
    if (decoded.ok) return decoded.message;
    if (!this.#refusedFrom.has(subject)) {
      this.#refusedFrom.add(subject);
      this.#log.error({subject, reason: decoded.reason}, 'refused a frame from a peer speaking another protocol; its frames are dropped');
    }
    return undefined;
  }
}
