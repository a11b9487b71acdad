// The fair-share bench's scenarios (bench/fair-share.ts): the lone client, and clients contending
// for one key (a hog or a flood beside normal clients, from their own addresses or all behind
// one proxy address, with or without API keys). Every answer is checked against the formula.

import {setTimeout as sleep} from 'node:timers/promises';
import {Client} from 'undici';
import {quantile} from '../scripts/load-generator.ts';
import {mixedPlan} from '../scripts/load-plan.ts';
import {send, start, wrongIn} from './fair-share-client.ts';
import {stop} from './servers.ts';

/** The lone client: one address, `clients` concurrent requests (closed loop), nobody else. */
export async function lone(root: string, clients: number, durationMs: number) {
  const {url, child} = await start(root, {BACKEND_LATENCY_MIN_MS: '1000', BACKEND_LATENCY_MAX_MS: '2000'});
  let peakOpen = 0;
  const watch = setInterval(() => {
    fetch(`${url}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        peakOpen = Math.max(peakOpen, Number(/^agent_batcher_open_requests (\d+)/m.exec(text)?.[1] ?? 0));
      })
      .catch(() => {});
  }, 500);
  const plan = mixedPlan({agents: 4, length: 16});
  const counts = {requests: 0, refused: 0, errors: 0, wrong: 0};
  const reasons: Record<string, number> = {};
  const end = performance.now() + durationMs;
  let seq = 0;
  await Promise.all(
    Array.from({length: clients}, async (_, c) => {
      // Connections opened over the first 2 s: a burst of 10,000 connects overflows the listen queue.
      await sleep((2000 * c) / clients);
      const client = new Client(url, {pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000});
      while (performance.now() < end) {
        const {agents} = plan(seq++);
        const answer = await send(client, agents).catch((error: {code?: string}) => {
          const kind = error.code ?? 'transport';
          reasons[kind] = (reasons[kind] ?? 0) + 1;
          return undefined;
        });
        counts.requests++;
        if (!answer) counts.errors++;
        else if (answer.status === 503) {
          counts.refused++;
          const reason = answer.body.error?.message ?? '?';
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        } else if (answer.status !== 200) {
          counts.errors++;
          reasons[answer.status] = (reasons[answer.status] ?? 0) + 1;
        } else counts.wrong += wrongIn(answer, agents);
      }
      await client.close();
    }),
  );
  clearInterval(watch);
  await stop([child]);
  const refusedShare = counts.refused / Math.max(1, counts.requests);
  return {clients, ...counts, peakOpen, refusedShare, admittedShare: 1 - refusedShare, reasons};
}

/** A normal client gives a request up after this many refusals. */
export const maxTries = 10;

/** Who sends: its source address, and its API key if the service has keys. */
export interface Sender {
  readonly address: string;
  readonly key?: string;
}

export interface Contention {
  /** The service's environment beyond the scenario's own (API_KEYS, for one). */
  readonly env?: Record<string, string>;
  /** The flood's senders: `inFlight` requests between them, Retry-After ignored (back 20 ms later). */
  readonly flood: readonly Sender[];
  readonly inFlight: number;
  /** 50 normal clients, one request at a time each, Retry-After honoured. */
  readonly normal: readonly Sender[];
  /** How long the normal clients send, after `warmMs` of flood alone. */
  readonly durationMs: number;
  readonly warmMs: number;
  /** MAX_PENDING_PER_MAILBOX of the one key (2,000 for figures; less than the flood asks for). */
  readonly mailbox: number;
}

/** A flood beside normal clients, all on one key. */
export async function contended(root: string, scenario: Contention) {
  const {url, child} = await start(root, {
    MAX_PENDING_PER_MAILBOX: String(scenario.mailbox),
    MAX_AGENTS_PER_REQUEST: '8',
    BACKEND_LATENCY_MIN_MS: '1000',
    BACKEND_LATENCY_MAX_MS: '1500',
    ...scenario.env,
  });
  const agents = (tag: number) =>
    Object.fromEntries(
      Array.from({length: 4}, (_, i) => [`a${i}`, {vector: [tag, i, 1], model: 'shared', agent_type: 'hot'}]),
    );
  const connect = (sender: Sender) =>
    new Client(url, {pipelining: 1, localAddress: sender.address, headersTimeout: 120_000, bodyTimeout: 120_000});
  const flooded = {requests: 0, admittedAgents: 0, refused: 0, wrong: 0};
  let flooding = true;
  const floods = Array.from({length: scenario.inFlight}, async (_, i) => {
    const sender = scenario.flood[i % scenario.flood.length];
    const client = connect(sender);
    for (let n = 0; flooding; n++) {
      const mine = agents(1e6 + i * 1000 + (n % 1000));
      const answer = await send(client, mine, sender.key).catch(() => undefined);
      flooded.requests++;
      if (answer?.status === 200) {
        flooded.admittedAgents += 4;
        flooded.wrong += wrongIn(answer, mine);
      } else {
        flooded.refused++;
        await sleep(20);
      }
    }
    await client.close();
  });
  const normal = {answered: 0, gaveUp: 0, tries: [] as number[], latencies: [] as number[]};
  const counts = {requests: 0, refusals: 0, errors: 0, wrong: 0, admittedAgents: 0, firstTry: 0};
  await sleep(scenario.warmMs);
  const end = performance.now() + scenario.durationMs;
  const normals = scenario.normal.map(async (sender, c) => {
    const client = connect(sender);
    for (let n = 0; performance.now() < end; n++) {
      const mine = agents(c * 1000 + n);
      const first = performance.now();
      counts.requests++;
      for (let tries = 1; ; tries++) {
        const answer = await send(client, mine, sender.key).catch(() => undefined);
        if (answer?.status === 200) {
          normal.answered++;
          counts.admittedAgents += 4;
          if (tries === 1) counts.firstTry++;
          normal.tries.push(tries);
          normal.latencies.push(performance.now() - first);
          counts.wrong += wrongIn(answer, mine);
          break;
        }
        if (answer?.status !== 503) {
          counts.errors++;
          break;
        }
        counts.refusals++;
        if (tries === maxTries) {
          normal.gaveUp++;
          break;
        }
        // An honest client: back after Retry-After.
        await sleep(answer.retryAfter * 1000);
      }
    }
    await client.close();
  });
  await Promise.all(normals);
  flooding = false;
  await Promise.all(floods);
  await stop([child]);
  const latencies = Float64Array.from(normal.latencies).sort();
  const tries = Float64Array.from(normal.tries).sort();
  const admitted = flooded.admittedAgents + counts.admittedAgents;
  return {
    floodSenders: scenario.flood.length,
    inFlight: scenario.inFlight,
    normal: {
      requests: counts.requests,
      answered: normal.answered,
      gaveUp: normal.gaveUp,
      refusals: counts.refusals,
      errors: counts.errors,
      wrong: counts.wrong,
      /** Of the normal clients' requests, those admitted at their first try. */
      firstTryShare: counts.firstTry / Math.max(1, counts.requests),
      meanTries: normal.tries.reduce((a, b) => a + b, 0) / Math.max(1, normal.tries.length),
      maxTries: tries[tries.length - 1] ?? 0,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      /** The normal clients' share of the agents admitted. */
      shareOfAdmitted: counts.admittedAgents / Math.max(1, admitted),
    },
    flood: flooded,
    floodShareOfAdmitted: flooded.admittedAgents / Math.max(1, admitted),
  };
}

export type LoneFigures = Awaited<ReturnType<typeof lone>>;
export type ContendedFigures = Awaited<ReturnType<typeof contended>>;
