// Many clients at once against a running service, and the checks every concurrency test makes:
// each prediction is DESIGN §4's formula for that very agent, and the batches are well formed.

import type {ExecutionContext} from 'ava';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {post, randomVector} from './service.ts';
import type {AgentSpec, Reply} from './service.ts';

export interface BurstOptions {
  clients: number;
  maxAgents: number;
  models: string[];
  agentTypes: string[];
  lengths: number[];
}

export interface SentAgent extends AgentSpec {
  client: number;
  id: string;
}

export interface BurstFigures {
  clients: number;
  agents: number;
  batches: number;
  meanBatchSize: number;
  sharedBatches: number;
}

/** Sends `clients` requests at once and checks every answer; returns the run's figures. */
export async function checkedBurst(
  t: ExecutionContext,
  url: string,
  o: BurstOptions,
  maxBatchSize: number,
): Promise<BurstFigures> {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const requests = Array.from({length: o.clients}, (_, client) => {
    const n = 1 + Math.floor(random() * o.maxAgents);
    const agents: Record<string, SentAgent> = {};
    for (let i = 0; i < n; i++) {
      const id = `c${client}-a${i}`;
      agents[id] = {
        client,
        id,
        vector: randomVector(pick(o.lengths), random),
        model: pick(o.models),
        agent_type: pick(o.agentTypes),
      };
    }
    return agents;
  });

  const replies = await Promise.all(
    requests.map((agents) =>
      post(`${url}/predict`, {
        agents: Object.fromEntries(
          Object.entries(agents).map(([id, a]) => [id, {vector: a.vector, model: a.model, agent_type: a.agent_type}]),
        ),
      }),
    ),
  );

  interface BatchSeen {
    size: number;
    rows: number;
    keys: Set<string>;
    clients: Set<number>;
  }
  const batches = new Map<string, BatchSeen>();
  let agents = 0;
  let wrong = 0;
  for (let c = 0; c < o.clients; c++) {
    const reply = replies[c];
    t.is(reply.status, 200, `client ${c}: ${JSON.stringify(reply.body)}`);
    t.false(reply.body.errors);
    const sent = requests[c];
    t.deepEqual(
      Object.keys(reply.body.results).sort(),
      Object.keys(sent).sort(),
      `client ${c} got exactly its own agents`,
    );
    for (const [id, result] of Object.entries<any>(reply.body.results)) {
      const agent = sent[id];
      agents++;
      if (result.prediction !== predictRow(bias(agent.model, agent.agent_type), agent.vector)) wrong++;
      let seen = batches.get(result.batch.id);
      if (!seen) {
        seen = {size: result.batch.size, rows: 0, keys: new Set(), clients: new Set()};
        batches.set(result.batch.id, seen);
      }
      seen.rows++;
      seen.keys.add(`${agent.agent_type}\n${agent.model}\n${agent.vector.length}`);
      seen.clients.add(c);
      t.is(result.batch.size, seen.size, `batch ${result.batch.id} reports one size`);
    }
  }
  t.is(wrong, 0, 'every prediction equals the formula for its own agent');
  let shared = 0;
  let rows = 0;
  for (const [id, b] of batches) {
    t.is(b.keys.size, 1, `batch ${id} holds one key and one vector length`);
    t.is(b.rows, b.size, `batch ${id}: size equals the agents carrying its id`);
    t.true(b.size <= maxBatchSize, `batch ${id} within MAX_BATCH_SIZE`);
    if (b.clients.size > 1) shared++;
    rows += b.rows;
  }
  t.true(shared > 0, 'agents of different clients share batches');
  return {clients: o.clients, agents, batches: batches.size, meanBatchSize: rows / batches.size, sharedBatches: shared};
}

/**
 * `count` normal clients over `urls` (round robin), in waves of `wave` at once, each with 1–3
 * agents on `models` keys (`<prefix>0` …); every answer is checked against the formula. Returns
 * what went wrong, one line per client or agent (empty: every agent got its own exact prediction).
 */
export async function exactClients(
  urls: readonly string[],
  count: number,
  options: {models?: number; wave?: number; prefix?: string} = {},
): Promise<string[]> {
  const {models = 6, wave = 20, prefix = 'm'} = options;
  const problems: string[] = [];
  const client = async (c: number) => {
    const agents = Object.fromEntries(
      Array.from({length: 1 + (c % 3)}, (_, a) => [
        `c${c}-${a}`,
        {vector: [c, a, 0.25], model: `${prefix}${(c + a) % models}`, agent_type: 't'},
      ]),
    );
    const reply = await post(`${urls[c % urls.length]}/predict`, {agents}).catch(
      (error: unknown) => ({status: 0, body: String(error)}) as Reply,
    );
    if (reply.status !== 200 || reply.body.errors !== false) {
      problems.push(`client ${c}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
      return;
    }
    if (Object.keys(reply.body.results).length !== Object.keys(agents).length)
      problems.push(`client ${c}: results for other agents`);
    for (const [id, agent] of Object.entries(agents)) {
      const expected = predictRow(bias(agent.model, agent.agent_type), agent.vector);
      const got = reply.body.results[id];
      if (got?.prediction !== expected) problems.push(`${id}: ${JSON.stringify(got)}, expected ${expected}`);
    }
  };
  for (let start = 0; start < count; start += wave) {
    await Promise.all(Array.from({length: Math.min(wave, count - start)}, (_, i) => client(start + i)));
  }
  return problems;
}
