// Starting, measuring and stopping one server process of the bench (Linux /proc for CPU and RSS).

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import {readFile} from 'node:fs/promises';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {maxBatchSize, maxWaitMs, servers} from './scenarios.ts';
import type {ServerId} from './scenarios.ts';

export async function startServer(id: ServerId, env: Record<string, string>): Promise<{child: ChildProcess; url: string}> {
  const port = await freePort();
  const child = spawn(process.execPath, [servers[id].entry], {
    env: {...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent', MAX_BATCH_SIZE: String(maxBatchSize), MAX_WAIT_MS: String(maxWaitMs), ...servers[id].env, ...env},
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(`${url}/${id.startsWith('d') ? 'readyz' : 'healthz'}`, {child});
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${id} did not start: ${(error as Error).message}`);
  }
  return {child, url};
}

/** CPU seconds the process (all its threads) has used so far, from /proc (Linux). */
export async function cpuSeconds(child: ChildProcess): Promise<number> {
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat; here indexed after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function peakRssMb(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

