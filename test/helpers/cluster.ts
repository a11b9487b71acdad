// Real parts for the scale-out tests: a nats-server on a free loopback port (open, or locked down
// with scripts/nats/cluster.conf, TLS certificates made with openssl into a temporary folder),
// and the service's processes started in their cluster roles, each stopped by its PID.

import test from 'ava';
import {execFileSync, spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {natsServerPath} from '../../scripts/ensure-parts.ts';
import {freePort, waitUntilUp} from '../../scripts/up.ts';

/** This test run's cluster key, given to every node the helpers start. */
export const clusterKey = randomBytes(32).toString('base64');

export interface Proc {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Every process a helper started and that has not exited: killed after the file's last test, so
 * that a test failing between two starts (before its cleanup is registered) leaves none behind.
 */
const running = new Set<ChildProcess>();
test.after.always('kill what the cluster helpers started', () => {
  for (const child of running) child.kill('SIGKILL');
});

function track(child: ChildProcess): Proc {
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (c) => (output += c));
  child.stderr?.on('data', (c) => (output += c));
  const exited = once(child, 'exit');
  return {
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code] = await exited;
      clearTimeout(timer);
      return code as number | null;
    },
  };
}

/** Kills `procs` at the test's teardown (SIGKILL), the last started first. */
export function cleanup(t: {teardown(fn: () => unknown): void}, ...procs: Proc[]): void {
  t.teardown(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL');
  });
}

export interface Nats extends Proc {
  readonly url: string;
  readonly port: number;
}

export async function startNats(
  port?: number,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<Nats> {
  const p = port ?? (await freePort());
  const monitor = await freePort();
  const child = spawn(natsServerPath(), [...extraArgs, '-a', '127.0.0.1', '-p', String(p), '-m', String(monitor)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, ...env},
  });
  const proc = track(child);
  await waitUntilUp(`http://127.0.0.1:${monitor}/healthz`, {child, describe: proc.output});
  return {...proc, url: `nats://127.0.0.1:${p}`, port: p};
}

const base = {
  LOG_LEVEL: 'info',
  HOST: '127.0.0.1',
  BACKEND_LATENCY_MIN_MS: '150',
  BACKEND_LATENCY_MAX_MS: '250',
  SHUTDOWN_TIMEOUT_MS: '5000',
  CLUSTER_KEY: clusterKey,
};

export async function startActors(nats: string, env: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {...process.env, ...base, ROLE: 'actors', NATS_URL: nats, ACTOR_POOL_SIZE: '1', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  for (let i = 0; i < 200 && !proc.output().includes('actor host up'); i++) {
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  if (!proc.output().includes('actor host up')) throw new Error(`actor host did not start: ${proc.output()}`);
  return proc;
}

export interface Gateway extends Proc {
  readonly url: string;
}

export async function startGateway(nats: string, env: Record<string, string> = {}): Promise<Gateway> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {...process.env, ...base, ROLE: 'gateway', NATS_URL: nats, PORT: String(port), ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = track(child);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(`${url}/readyz`, {child, describe: proc.output});
      return {...proc, url};
    } catch (error) {
      // The free port was taken by another test's process between freePort and the bind: another one.
      if (attempt < 3 && /already in use/.test(String(error))) continue;
      throw error;
    }
  }
}

/** TLS files made for one test: a CA, the server's certificate (127.0.0.1) and one client certificate, all signed by the CA. */
export interface Certificates {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Deletes the folder. */
  remove(): void;
}

/** Makes a CA and certificates (P-256, valid one day) in a new temporary folder, with scripts/nats/make-certs.sh. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-batcher-tls-'));
  const at = (name: string) => path.join(dir, name);
  const script = path.join(import.meta.dirname, '../../scripts/nats/make-certs.sh');
  try {
    execFileSync('sh', [script, dir, 'IP:127.0.0.1,DNS:localhost', 'client', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    rmSync(dir, {recursive: true, force: true});
    throw new Error(`scripts/nats/make-certs.sh failed (it needs openssl): ${(error as Error).message}`);
  }
  return {
    dir,
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    remove: () => rmSync(dir, {recursive: true, force: true}),
  };
}

/** The users of scripts/nats/cluster.conf. */
export const lockedUsers = ['gw1', 'gw2', 'host1', 'host2'] as const;
export type LockedUser = (typeof lockedUsers)[number];

export interface LockedNats extends Nats {
  readonly certificates: Certificates;
  /** NATS_URL for a node that is `user`, and the TLS variables that go with it. */
  envFor(user: LockedUser): Record<string, string>;
  readonly passwords: Readonly<Record<LockedUser, string>>;
}

/** nats-server with the repository's locked-down config (TLS with client certificates, a user per node). */
export async function startLockedNats(): Promise<LockedNats> {
  const certificates = makeCertificates();
  // nats-server parses the value of a $VARIABLE as config: a password that reads as a number or a
  // date (`1234-56…`) breaks the file. A letter first, then hex, reads as text.
  const passwords = Object.fromEntries(lockedUsers.map((u) => [u, `p${randomBytes(12).toString('hex')}`])) as Record<
    LockedUser,
    string
  >;
  const config = path.join(import.meta.dirname, '../../scripts/nats/cluster.conf');
  const nats = await startNats(undefined, ['-c', config], {
    NATS_SERVER_CERT: certificates.serverCert,
    NATS_SERVER_KEY: certificates.serverKey,
    NATS_CA: certificates.ca,
    ...Object.fromEntries(lockedUsers.map((u) => [`${u.toUpperCase()}_PASSWORD`, passwords[u]])),
  }).catch((error: unknown) => {
    certificates.remove();
    throw error;
  });
  return {
    ...nats,
    certificates,
    passwords,
    stop: async (signal) => {
      const code = await nats.stop(signal);
      certificates.remove();
      return code;
    },
    envFor: (user) => ({
      NATS_URL: `tls://${user}:${passwords[user]}@127.0.0.1:${nats.port}`,
      NATS_TLS_CA: certificates.ca,
      NATS_TLS_CERT: certificates.clientCert,
      NATS_TLS_KEY: certificates.clientKey,
      CLUSTER_NODE: user,
    }),
  };
}
