// Real parts for the scale-out tests: a nats-server on a free loopback port, and the service's
// processes started in their cluster roles, each stopped by its PID.

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';
import {findPart, missingPart} from '../../scripts/ensure-parts.ts';
import {freePort, waitUntilUp} from '../../scripts/up.ts';

/** nats-server's path; a missing one is one line saying how to install it. */
export function natsServerPath(): string {
  const found = findPart('nats-server');
  if (!found) throw new Error(missingPart('nats-server', 'the scale-out'));
  return found;
}

export interface Proc {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function track(child: ChildProcess): Proc {
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

export interface Nats extends Proc {
  readonly url: string;
  readonly port: number;
}

export async function startNats(port?: number, extraArgs: string[] = []): Promise<Nats> {
  const p = port ?? (await freePort());
  const monitor = await freePort();
  const child = spawn(natsServerPath(), ['-a', '127.0.0.1', '-p', String(p), '-m', String(monitor), ...extraArgs], {stdio: ['ignore', 'pipe', 'pipe']});
  const proc = track(child);
  await waitUntilUp(`http://127.0.0.1:${monitor}/healthz`, {child, describe: proc.output});
  return {...proc, url: `nats://127.0.0.1:${p}`, port: p};
}

const base = {LOG_LEVEL: 'info', HOST: '127.0.0.1', BACKEND_LATENCY_MIN_MS: '150', BACKEND_LATENCY_MAX_MS: '250', SHUTDOWN_TIMEOUT_MS: '5000'};

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
  const port = await freePort();
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {...process.env, ...base, ROLE: 'gateway', NATS_URL: nats, PORT: String(port), ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}/readyz`, {child, describe: proc.output});
  return {...proc, url};
}
