// Starting, measuring and stopping what the bench drives: one server process, or a deployment of
// several (two services behind a round-robin; NATS + an actor host + two gateways). Figures are
// summed over a deployment's processes (Linux /proc for CPU and RSS).

import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import type {ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import {mkdtempSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {natsServerPath} from '../scripts/ensure-parts.ts';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {maxBatchSize, maxWaitMs} from './scenarios.ts';
import {servers} from './server-specs.ts';
import type {ServerId} from './server-specs.ts';

export interface Deployment {
  readonly children: ChildProcess[];
  /** Its front ends, comma-separated (the load generator goes round-robin over them). */
  readonly url: string;
  /** Where the first front end's probe writes its GC, event-loop and heap figures (bench/probe.ts). */
  readonly probeFile: string | undefined;
  /** The first front end's process (the one the probe watches). */
  readonly front: ChildProcess;
}

export interface Probe {
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  gcP99Ms: number;
  gcByKind?: Record<string, {maxMs: number; totalMs: number; count: number}>;
  /** Pauses longer than 20 ms (the target for the longest). */
  gcOver20Ms?: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  heapBaselineMb: number;
  heapMaxMb: number;
}

const probeDir = mkdtempSync(path.join(os.tmpdir(), 'agent-batcher-probe-'));
let probes = 0;

/** The probe's figures, once the deployment has stopped. */
export async function readProbe(file: string | undefined): Promise<Probe | undefined> {
  if (!file) return undefined;
  return JSON.parse(await readFile(file, 'utf8').catch(() => 'null')) ?? undefined;
}

async function startProcess(
  entry: string,
  env: Record<string, string>,
  readyPath: string | undefined,
  children: ChildProcess[],
  probeFile?: string,
  nodeArgs: readonly string[] = [],
): Promise<string> {
  const port = await freePort();
  const probe = probeFile ? ['--import', './bench/probe.ts'] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...probe, entry], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      MAX_BATCH_SIZE: String(maxBatchSize),
      MAX_WAIT_MS: String(maxWaitMs),
      ...(probeFile && {PROBE_OUT: probeFile}),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  if (readyPath) await waitUntilUp(`${url}${readyPath}`, {child});
  return url;
}

export async function startServer(id: ServerId, env: Record<string, string>): Promise<Deployment> {
  const {entry, env: own, fronts = 1, nats, nodeArgs} = servers[id];
  const probeFile = path.join(probeDir, `${id}-${++probes}.json`);
  const children: ChildProcess[] = [];
  try {
    const extra: Record<string, string> = {};
    if (nats) {
      const port = await freePort();
      const child = spawn(natsServerPath(), ['-a', '127.0.0.1', '-p', String(port)], {stdio: 'ignore'});
      children.push(child);
      await sleep(300);
      extra.NATS_URL = `nats://127.0.0.1:${port}`;
      // Every frame of the cluster is signed: one key per run, shared by its nodes.
      extra.CLUSTER_KEY = randomBytes(32).toString('base64');
      await startProcess(entry, {...own, ...env, ...extra, ROLE: 'actors'}, undefined, children, undefined, nodeArgs);
      extra.ROLE = 'gateway';
    }
    const readyPath = id.startsWith('d') || id.startsWith('s') ? '/readyz' : '/healthz';
    const urls: string[] = [];
    const firstFront = children.length;
    for (let i = 0; i < fronts; i++)
      urls.push(
        await startProcess(
          entry,
          {...own, ...env, ...extra},
          readyPath,
          children,
          i === 0 ? probeFile : undefined,
          nodeArgs,
        ),
      );
    return {children, url: urls.join(','), probeFile, front: children[firstFront]};
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    throw new Error(`${id} did not start: ${(error as Error).message}`);
  }
}

/** CPU seconds the processes (all their threads) have used so far, from /proc (Linux). */
export async function cpuSeconds(children: readonly ChildProcess[]): Promise<number> {
  let total = 0;
  for (const child of children) total += await statCpuSeconds(`/proc/${child.pid}/stat`);
  return total;
}

/** CPU seconds of a process's main thread alone (its JavaScript event loop), from /proc (Linux). */
export function mainThreadCpuSeconds(child: ChildProcess): Promise<number> {
  return statCpuSeconds(`/proc/${child.pid}/task/${child.pid}/stat`);
}

async function statCpuSeconds(file: string): Promise<number> {
  const stat = await readFile(file, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat; here indexed after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak RSS, summed over the processes. */
export async function peakRssMb(children: readonly ChildProcess[]): Promise<number> {
  let total = 0;
  for (const child of children) {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    total += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  }
  return total;
}

/** SIGTERM, last started first (gateways before their actor host, NATS last). */
export async function stop(children: readonly ChildProcess[]): Promise<void> {
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
