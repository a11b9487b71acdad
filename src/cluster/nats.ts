// The NATS side of the cluster roles: the connection (credentials taken out of NATS_URL, never
// logged; TLS from NATS_TLS_*), the subjects, and the timings of membership. Loaded only by the
// cluster roles, so a single process never pays for the NATS client.
//
//   <prefix>.members.<host>                                 an actor host's heartbeats (every heartbeatMs)
//   <prefix>.host.<host>.<host boot>.<thread>.<gateway>     a gateway's dispatch / withdraw frames
//                                                           for one actor thread of one start of a host
//   <prefix>.gateway.<gateway>.<gateway boot>.<host>        an actor host's results for one start of a gateway
//
// Every subject names its sender in its last token (<host> or <gateway>), and every frame names
// its sender inside its signed part: a frame whose two names differ is refused (wire.ts). With
// NATS permissions that let each node's credential publish only on subjects ending in its own
// name and read only its own inbox (scripts/nats/cluster.conf), no credential can speak for
// another node, nor read what was sent to another. A boot (random per process start) in the
// subjects means a restarted node never receives what was meant for its previous start.

import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {connect, credsAuthenticator} from '@nats-io/transport-node';
import type {NatsConnection} from '@nats-io/transport-node';
import type {Logger} from 'pino';
import type {NatsOptions} from '../config.ts';
import {raceTimeout} from '../race-timeout.ts';
import {redactUrl} from '../redact.ts';
import {NatsStatus, warnWhileConnecting} from './nats-status.ts';

export const heartbeatMs = 400;
/** A member not heard from for this long is gone: what it held fails with worker_failed. */
export const memberTimeoutMs = 1500;

/** Where a frame was published, read back from its subject; `sender` is the subject's last token. */
export type Route =
  | {readonly kind: 'members'; readonly sender: string}
  | {
      readonly kind: 'host';
      readonly host: string;
      readonly boot: string;
      readonly thread: number;
      readonly sender: string;
    }
  | {readonly kind: 'gateway'; readonly gateway: string; readonly boot: string; readonly sender: string};

export const subjects = (prefix: string) => ({
  members: (host: string) => `${prefix}.members.${host}`,
  allMembers: `${prefix}.members.*`,
  thread: (host: string, hostBoot: string, thread: number, gateway: string) =>
    `${prefix}.host.${host}.${hostBoot}.${thread}.${gateway}`,
  /** Everything for one start of a host. */
  hostInbox: (host: string, hostBoot: string) => `${prefix}.host.${host}.${hostBoot}.>`,
  gateway: (gateway: string, gatewayBoot: string, host: string) =>
    `${prefix}.gateway.${gateway}.${gatewayBoot}.${host}`,
  /** Everything for one start of a gateway. */
  gatewayInbox: (gateway: string, gatewayBoot: string) => `${prefix}.gateway.${gateway}.${gatewayBoot}.*`,
  /** The route of a subject of ours, or undefined when it is not one. */
  parse(subject: string): Route | undefined {
    if (!subject.startsWith(`${prefix}.`)) return undefined;
    const t = subject.slice(prefix.length + 1).split('.');
    if (t[0] === 'members' && t.length === 2) return {kind: 'members', sender: t[1]};
    if (t[0] === 'host' && t.length === 5 && /^\d{1,6}$/.test(t[3]))
      return {kind: 'host', host: t[1], boot: t[2], thread: Number(t[3]), sender: t[4]};
    if (t[0] === 'gateway' && t.length === 4) return {kind: 'gateway', gateway: t[1], boot: t[2], sender: t[3]};
    return undefined;
  },
});

/** A short id, unique in the cluster for the life of a process (hex: no '.', '-' or '*'). */
export function nodeId(): string {
  return randomBytes(5).toString('hex');
}

/**
 * A boot: this start of a process, as 12 hex digits of its start time (ms since 1970) and 8
 * random ones. It is inside every frame's signed envelope, so the start time is signed: a later
 * start of a name replaces an earlier one, and an earlier one never comes back (replay.ts,
 * membership.ts).
 */
export function bootId(started: number = Date.now()): string {
  return `${Math.floor(started).toString(16).padStart(12, '0')}${randomBytes(4).toString('hex')}`;
}

/** The signed start time a boot carries, or undefined when it is not a boot of bootId's form. */
export function bootStart(boot: string): number | undefined {
  return /^[0-9a-f]{20}$/.test(boot) ? Number.parseInt(boot.slice(0, 12), 16) : undefined;
}

/**
 * A start-up problem with NATS a user can fix (credentials refused, a bad NATS_CREDS file,
 * servers with different credentials): main.ts prints its message as one line, no stack. It
 * never carries a credential.
 */
export class NatsStartError extends Error {
  override name = 'NatsStartError';
}

/**
 * The servers of NATS_URL and the credentials they carried (user:pass@ or token@). The NATS
 * client uses one set for every server: servers that carry different ones are refused.
 */
export function natsServers(url: string): {servers: string[]; user?: string; pass?: string; token?: string} {
  let user: string | undefined;
  let pass: string | undefined;
  let token: string | undefined;
  let carried: string | undefined;
  const servers = url.split(',').map((raw) => {
    // Config checked that it parses; should it not, the error must not carry the raw text (a
    // URL parser's error has it as `input`, which a log line would show, password and all).
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      throw new Error(`NATS_URL: a server does not parse as a URL (${redactUrl(raw.trim())})`);
    }
    if (u.username && carried !== undefined && carried !== `${u.username}:${u.password}`)
      throw new NatsStartError(
        'NATS_URL: its servers carry different credentials, and the NATS client uses one set for all of them: write the same user:password@ (or token@) on each server, or on one only',
      );
    if (u.username) carried = `${u.username}:${u.password}`;
    if (u.username && u.password) {
      user = decodeURIComponent(u.username);
      pass = decodeURIComponent(u.password);
    } else if (u.username) token = decodeURIComponent(u.username);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  });
  return {servers, user, pass, token};
}

/** A connection and what its status said (nats-status.ts). */
export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly status: NatsStatus;
}

/**
 * Connects, reconnecting forever (and saying so at warn, at a bounded rate, while it cannot);
 * status changes go to the log without credentials. `node` is this node's name (CLUSTER_NODE).
 */
export async function connectNats(
  options: NatsOptions,
  node: string,
  role: string,
  log: Logger,
): Promise<ClusterConnection> {
  const {servers, user, pass, token} = natsServers(options.url);
  const creds = options.credsFile ? readCreds(options.credsFile) : undefined;
  const connecting = connect({
    servers,
    user,
    pass,
    token: token ?? options.token,
    ...(creds && {authenticator: credsAuthenticator(new Uint8Array(creds))}),
    // Set: only a TLS connection is made, the server checked against NATS_TLS_CA (else the
    // system's CAs), with this client's certificate when NATS_TLS_CERT is set. Unset: TLS when
    // the server offers it.
    ...(options.tls && {tls: {...options.tls}}),
    name: `agent-batcher ${role} ${node}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  const nc = await warnWhileConnecting(connecting, servers, log).catch((error: unknown) => {
    throw startProblem(error, options, {user, token});
  });
  const status = new NatsStatus(nc, node, log);
  log.info({servers, tls: options.tls !== undefined}, 'connected to NATS');
  return {nc, status};
}

function readCreds(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NatsStartError(
      `NATS_CREDS ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** What a first connection's failure means, as one line without credentials (else the error itself). */
function startProblem(error: unknown, options: NatsOptions, carried: {user?: string; token?: string}): unknown {
  const message = error instanceof Error ? error.message : '';
  if (
    error instanceof Error &&
    (error.name === 'AuthorizationError' || /authori[sz]ation|authentication/i.test(message))
  ) {
    const which = options.credsFile
      ? `NATS_CREDS ${options.credsFile}`
      : carried.user
        ? 'the user and password in NATS_URL'
        : carried.token
          ? 'the token in NATS_URL'
          : options.token
            ? 'NATS_TOKEN'
            : 'no credentials (set them in NATS_URL, NATS_TOKEN or NATS_CREDS)';
    return new NatsStartError(`NATS refused this node's credentials: ${which} (${message.slice(0, 100)})`);
  }
  if (options.credsFile && /^nkeys:|jwt|creds/i.test(message))
    return new NatsStartError(
      `NATS_CREDS ${options.credsFile}: not a valid NATS credentials file (${message.slice(0, 100)})`,
    );
  return error;
}

/** Drains a connection, and closes it when that takes over 2 s (lost, or refused subjects): shutdown never hangs on NATS. */
export async function closeNats(nc: NatsConnection | undefined): Promise<void> {
  if (!nc || nc.isClosed()) return;
  const drained = await raceTimeout(
    nc.drain().then(
      () => true,
      () => false,
    ),
    2000,
    () => false,
  );
  if (!drained) await nc.close().catch(() => {});
}
