// What the bench runs: the scenarios the servers (server-specs.ts) are driven through, each load,
// its payloads and its backend, and the service's batch settings they all share.

export const maxBatchSize = 32;
export const maxWaitMs = 20;
/** Closed-loop seed load: every client starts at once; requests started after this are steady state. */
export const warmupMs = 10_000;

import type {ServerId} from './server-specs.ts';

export interface Scenario {
  id: string;
  title: string;
  servers: ServerId[];
  loads: number[];
  seconds: number;
  agents: number;
  length: number;
  latency: [number, number];
  viaHttpBackend: boolean;
  /** Open loop at this many requests/s (`loads` then caps the requests in flight). */
  rate?: number;
  /** The same load first for this long, not measured: code compiled, pools and windows settled. */
  warmupSeconds?: number;
  /** Runs every server this many times, interleaved; the round of median CPU per request is kept. */
  rounds?: number;
}

export function scenarios(quick: boolean, only?: string): Scenario[] {
  return (
    [
      {
        id: 'gateway-bound',
        title: 'gateway-bound: backend 0–1 ms, 4 agents × 16 floats, 3 models × 2 agent types',
        servers: ['a', 'b', 'c', 'd1', 'd2'] as ServerId[],
        loads: quick ? [32, 256] : [8, 32, 128, 512],
        seconds: quick ? 3 : 8,
        agents: 4,
        length: 16,
        latency: [0, 1] as [number, number],
        viaHttpBackend: false,
      },
      {
        // CPU per request compared where every server keeps up: at best throughput (above) a closed
        // loop settles into different regimes from run to run (batches cut by size or by the window).
        id: 'gateway-cpu',
        title: `CPU per request at a fixed offered load: backend 0–1 ms, open loop at 3,000 requests/s after ${quick ? 1 : 3} s of the same (not measured), 4 agents × 16 floats`,
        servers: ['a', 'b', 'c', 'd1'] as ServerId[],
        loads: [1024],
        rate: 3000,
        seconds: quick ? 5 : 12,
        warmupSeconds: quick ? 1 : 3,
        rounds: quick ? 1 : 3,
        agents: 4,
        length: 16,
        latency: [0, 1] as [number, number],
        viaHttpBackend: false,
      },
      {
        id: 'seed',
        title: `seed load: backend 3–7 s, ${quick ? '2,000' : '10,000'} concurrent clients × 4 agents, closed loop`,
        servers: (quick ? ['ah', 'c', 'd1'] : ['ah', 'bh', 'c', 'd1', 'd2']) as ServerId[],
        loads: [quick ? 2000 : 10_000],
        seconds: quick ? 20 : 45,
        agents: 4,
        length: 16,
        latency: [3000, 7000] as [number, number],
        viaHttpBackend: true,
      },
      {
        id: 'window',
        title: `batch window: backend 3–7 s, open loop at 60 requests/s (the seed's 400 locust users) × 4 agents, 6 keys, fixed 20 ms against auto`,
        servers: ['d1', 'd1a'] as ServerId[],
        loads: [2000],
        rate: 60,
        seconds: quick ? 30 : 60,
        agents: 4,
        length: 16,
        latency: [3000, 7000] as [number, number],
        viaHttpBackend: true,
      },
      {
        id: 'open-requests',
        title: `open requests: ${quick ? '2,000' : '10,000'} clients each holding one request for the backend's 3–7 s (in-process), 4 agents × 16 floats`,
        servers: (quick
          ? ['ah', 'd1n', 'd1s16o']
          : ['ah', 'bh', 'd1n', 'd1s16', 'd1s16o', 'd1s8o', 'd1ms', 'd1st']) as ServerId[],
        loads: [quick ? 2000 : 10_000],
        seconds: quick ? 15 : 30,
        agents: 4,
        length: 16,
        latency: [3000, 7000] as [number, number],
        viaHttpBackend: false,
      },
      {
        id: 'scale-out',
        title: 'scale-out: backend 200–400 ms over HTTP, 512 closed-loop clients × 4 agents, one front end or two',
        servers: ['s1', 's2', 's3'] as ServerId[],
        loads: [512],
        seconds: quick ? 10 : 25,
        agents: 4,
        length: 16,
        latency: [200, 400] as [number, number],
        viaHttpBackend: true,
      },
      {
        id: 'large-vectors',
        title: 'large vectors: backend 0–1 ms, 8 agents × 4,096 floats',
        servers: ['a', 'b', 'c', 'd1', 'd2'] as ServerId[],
        loads: [quick ? 16 : 32],
        seconds: quick ? 3 : 8,
        agents: 8,
        length: 4096,
        latency: [0, 1] as [number, number],
        viaHttpBackend: false,
      },
    ] satisfies Scenario[]
  )
    .filter((s) => !only || only.split(',').includes(s.id))
    .map((s) => (quick ? quickRun(s) : s));
}

/** Scenario ids, for checking --only. */
export const scenarioIds = (): string[] => scenarios(false).map((s) => s.id);

/**
 * `--quick`: every scenario once, at one small load, to show that everything still runs (about
 * a minute and a half here); its figures mean nothing. One load (at most 256 clients, 500
 * requests/s), 2 s each (0.5 s of warm-up where the scenario has one), one round, and a backend
 * ten times faster where it takes seconds (3–7 s becomes 300–700 ms), so that requests complete
 * within the run.
 */
function quickRun(s: Scenario): Scenario {
  const scale = s.latency[1] >= 1000 ? 10 : 1;
  const latency: [number, number] = [s.latency[0] / scale, s.latency[1] / scale];
  const clients = Math.min(s.loads[0], 256);
  const rate = s.rate === undefined ? undefined : Math.min(s.rate, 500);
  const ms = (range: [number, number]) => `${range[0]}–${range[1]} ms`;
  return {
    ...s,
    title: `${s.title} — quick: ${rate ? `${rate} req/s, ` : ''}${clients} clients, 2 s${scale > 1 ? `, backend ${ms(latency)}` : ''}`,
    loads: [clients],
    rate,
    seconds: 2,
    warmupSeconds: s.warmupSeconds === undefined ? undefined : 0.5,
    rounds: 1,
    latency,
  };
}
