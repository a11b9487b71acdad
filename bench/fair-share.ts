// The fair share measured both ways (issue #22, item 7), against the service in a process of its
// own, with clients told apart by their source address (loopback 127.0.0.x, no API keys):
//
//   lone   one address, `--lone-clients` concurrent clients (closed loop) × 4 agents over 6 keys,
//          every limit at its default, backend 1–2 s (short beside the default 3–7 s, long enough that the
//          requests pile up in the service rather than in the client): the share of requests
//          refused, and the most requests the service held at once.
//   flood  1, 2 and 20 flooding addresses (`--flood-requests` requests in flight between them, 4
//          agents each, Retry-After ignored: retried 20 ms after a refusal) beside 50 normal
//          clients (one address each, 4 agents, Retry-After honoured), all on one key whose
//          mailbox holds MAX_PENDING_PER_MAILBOX=2000, backend 1–1.5 s: what the normal clients
//          got (requests answered, tries each, latency from first try to answer, errors, requests
//          given up after 10 tries) and the flood's share of the agents admitted. The normal
//          clients start 2 s into the flood and send requests for `--seconds`; the flood goes on
//          until their last request is answered or given up.
//
// Not a test: figures for the README's "Fair share" table. Every answer is checked against the
// formula. `--root DIR` runs another checkout's src/main.ts (the code before, for comparison).
//
//   node bench/fair-share.ts [--seconds 15] [--lone-clients 10000] [--only lone|flood] [--root DIR]

import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {setTimeout as sleep} from 'node:timers/promises';
import {Client} from 'undici';
import {quantile} from '../scripts/load-generator.ts';
import {mixedPlan} from '../scripts/load-plan.ts';
import {send, start, wrongIn} from './fair-share-client.ts';
import {stop} from './servers.ts';

const {values: args} = parseArgs({
  options: {
    seconds: {type: 'string', default: '15'},
    'lone-clients': {type: 'string', default: '10000'},
    'flood-requests': {type: 'string', default: '800'},
    only: {type: 'string'},
    root: {type: 'string'},
    out: {type: 'string', default: 'bench/fair-share.json'},
  },
});
const durationMs = Number(args.seconds) * 1000;
const root = path.resolve(args.root ?? path.join(import.meta.dirname, '..'));

/** The lone client: one address, many concurrent requests, nobody else. */
async function lone(clients: number) {
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
  return {clients, ...counts, peakOpen, refusedShare: counts.refused / counts.requests, reasons};
}

/** A normal client gives a request up after this many refusals. */
const maxTries = 10;

/** Flooding addresses beside 50 normal clients, all on one key. */
async function flood(addresses: number, inFlight: number) {
  const {url, child} = await start(root, {
    MAX_PENDING_PER_MAILBOX: '2000',
    BACKEND_LATENCY_MIN_MS: '1000',
    BACKEND_LATENCY_MAX_MS: '1500',
  });
  const agents = (tag: number) =>
    Object.fromEntries(
      Array.from({length: 4}, (_, i) => [`a${i}`, {vector: [tag, i, 1], model: 'shared', agent_type: 'hot'}]),
    );
  const flooded = {requests: 0, admittedAgents: 0, refused: 0, wrong: 0};
  let flooding = true;
  const floodClients = Array.from({length: addresses}, (_, a) => `127.0.0.${2 + a}`);
  const floods = Array.from({length: inFlight}, async (_, i) => {
    const client = new Client(url, {
      pipelining: 1,
      localAddress: floodClients[i % addresses],
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    for (let n = 0; flooding; n++) {
      const mine = agents(1e6 + i * 1000 + (n % 1000));
      const answer = await send(client, mine).catch(() => undefined);
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
  const normal = {
    answered: 0,
    gaveUp: 0,
    tries: [] as number[],
    latencies: [] as number[],
    refusals: 0,
    errors: 0,
    wrong: 0,
    admittedAgents: 0,
  };
  // The normal clients start once the flood has filled the mailbox.
  await sleep(2000);
  const end = performance.now() + durationMs;
  const normals = Array.from({length: 50}, async (_, c) => {
    const client = new Client(url, {
      pipelining: 1,
      localAddress: `127.0.0.${101 + c}`,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    for (let n = 0; performance.now() < end; n++) {
      const mine = agents(c * 1000 + n);
      const first = performance.now();
      let tries = 0;
      for (;;) {
        tries++;
        const answer = await send(client, mine).catch(() => undefined);
        if (answer?.status === 200) {
          normal.answered++;
          normal.admittedAgents += 4;
          normal.tries.push(tries);
          normal.latencies.push(performance.now() - first);
          normal.wrong += wrongIn(answer, mine);
          break;
        }
        if (answer?.status !== 503) {
          normal.errors++;
          break;
        }
        normal.refusals++;
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
  return {
    addresses,
    inFlight,
    normal: {
      answered: normal.answered,
      gaveUp: normal.gaveUp,
      refusals: normal.refusals,
      errors: normal.errors,
      wrong: normal.wrong,
      meanTries: normal.tries.reduce((a, b) => a + b, 0) / Math.max(1, normal.tries.length),
      maxTries: tries[tries.length - 1] ?? 0,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
    },
    flood: flooded,
    floodShareOfAdmitted: flooded.admittedAgents / Math.max(1, flooded.admittedAgents + normal.admittedAgents),
  };
}

const results: Record<string, unknown> = {root, seconds: durationMs / 1000};
if (!args.only || args.only === 'lone') {
  const r = await lone(Number(args['lone-clients']));
  results.lone = r;
  console.log(
    `lone: ${r.clients} clients, ${r.requests} requests (at most ${r.peakOpen} held at once), ${(100 * r.refusedShare).toFixed(1)}% refused, ${r.errors} errors, ${r.wrong} wrong`,
    r.reasons,
  );
}
if (!args.only || args.only === 'flood') {
  const floods = [];
  for (const addresses of [1, 2, 20]) {
    const r = await flood(addresses, Number(args['flood-requests']));
    floods.push(r);
    const n = r.normal;
    console.log(
      `flood from ${addresses}: normal ${n.answered} answered (${n.gaveUp} given up after ${maxTries} tries), tries mean ${n.meanTries.toFixed(2)} max ${n.maxTries}, ` +
        `p50 ${n.p50Ms.toFixed(0)} ms p99 ${n.p99Ms.toFixed(0)} ms, ${n.refusals} 503s, ${n.errors} errors, ${n.wrong} wrong; ` +
        `flood ${r.flood.requests} requests, ${r.flood.refused} refused, ${(100 * r.floodShareOfAdmitted).toFixed(1)}% of admitted agents`,
    );
  }
  results.flood = floods;
}
await writeFile(args.out, `${JSON.stringify(results, null, 2)}\n`);
