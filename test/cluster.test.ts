// Scale-out over NATS with a real nats-server: gateways and actor hosts in their own processes.
// Each key has one mailbox in the whole cluster, so batches fill from every gateway's clients.

import test from 'ava';
import http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';
import {connect} from '@nats-io/transport-node';
import {wireVersion} from '../src/protocol/codec.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {cleanup, startActors, startGateway, startNats} from './helpers/cluster.ts';
import type {Proc} from './helpers/cluster.ts';
import {parsePrometheus, total} from './helpers/prom-text.ts';
import {needPart} from './helpers/parts.ts';
import {post} from './helpers/service.ts';
import {metric, until} from './helpers/until.ts';

// Without nats-server every test here fails with one line saying how to install it.
test.beforeEach((t) => void needPart(t, 'nats-server'));

const hostOf = (batchId: string) => batchId.slice(2, batchId.indexOf('.'));

/** nats-server, two actor hosts with `hostEnv` and one gateway, all heard by the gateway; killed at teardown. */
async function twoHostCluster(t: {teardown(fn: () => unknown): void}, hostEnv: Record<string, string>) {
  const nats = await startNats();
  const hosts = [await startActors(nats.url, hostEnv), await startActors(nats.url, hostEnv)];
  const gateway = await startGateway(nats.url);
  cleanup(t, nats, ...hosts, gateway);
  await sleep(500);
  return {hosts, gateway};
}

test.serial(
  '500 clients over two gateways and two actor hosts: exact answers, batches shared across gateways, both hosts used',
  async (t) => {
    const nats = await startNats();
    const hosts = [await startActors(nats.url, {MAX_WAIT_MS: '40'}), await startActors(nats.url, {MAX_WAIT_MS: '40'})];
    const gateways = [await startGateway(nats.url), await startGateway(nats.url)];
    cleanup(t, nats, ...hosts, ...gateways);
    await sleep(500); // every gateway has heard both hosts
    const models = ['resnet-50', 'gpt-mini', 'bert-base'];
    // 12 keys: rendezvous over random member ids puts every one on the same host with odds 2 in 4,096.
    const agentTypes = ['scout', 'pilot', 'medic', 'drone'];
    const sent = Array.from({length: 500}, (_, c) => ({
      gateway: c % 2,
      agents: Object.fromEntries(
        Array.from({length: 1 + (c % 3)}, (_, i) => [
          `c${c}-${i}`,
          {vector: [c, i, 0.5], model: models[(c + i) % 3], agent_type: agentTypes[(c >> 1) % 4]},
        ]),
      ),
    }));
    // In waves, so that each key gets fewer rows per window than MAX_BATCH_SIZE from each gateway.
    const replies: Awaited<ReturnType<typeof post>>[] = [];
    for (let wave = 0; wave < sent.length; wave += 20) {
      replies.push(
        ...(await Promise.all(
          sent.slice(wave, wave + 20).map((s) => post(`${gateways[s.gateway].url}/predict`, {agents: s.agents})),
        )),
      );
    }
    const gatewaysOfBatch = new Map<string, Set<number>>();
    let wrong = 0;
    replies.forEach((reply, c) => {
      t.is(reply.status, 200, JSON.stringify(reply.body));
      t.deepEqual(Object.keys(reply.body.results).sort(), Object.keys(sent[c].agents).sort());
      for (const [id, agent] of Object.entries<any>(sent[c].agents)) {
        const result = reply.body.results[id];
        if (result.prediction !== predictRow(bias(agent.model, agent.agent_type), agent.vector)) wrong++;
        const seen = gatewaysOfBatch.get(result.batch.id) ?? new Set();
        seen.add(sent[c].gateway);
        gatewaysOfBatch.set(result.batch.id, seen);
      }
    });
    t.is(wrong, 0, 'every prediction is the formula for its own agent');
    const shared = [...gatewaysOfBatch.values()].filter((g) => g.size === 2).length;
    t.true(shared > 0, `${shared} of ${gatewaysOfBatch.size} batches carried rows of both gateways`);
    t.is(new Set([...gatewaysOfBatch.keys()].map(hostOf)).size, 2, 'both actor hosts ran batches');
    t.log(`${gatewaysOfBatch.size} batches, ${shared} shared by both gateways`);
  },
);

/** A streamed request: resolves with each agent line and the ms (since `t0`) it arrived. */
async function streamLines(url: string, body: unknown, t0: () => number): Promise<{at: number; line: any}[]> {
  const response = await fetch(`${url}/predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/x-ndjson'},
    body: JSON.stringify(body),
  });
  const lines: {at: number; line: any}[] = [];
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    buffered += decoder.decode(chunk, {stream: true});
    let cut = buffered.indexOf('\n');
    while (cut >= 0) {
      lines.push({at: Date.now() - t0(), line: JSON.parse(buffered.slice(0, cut))});
      buffered = buffered.slice(cut + 1);
      cut = buffered.indexOf('\n');
    }
  }
  return lines;
}

test.serial(
  'an actor host killed with SIGKILL: its agents get worker_failed within 2 s, its keys move, the next requests succeed',
  async (t) => {
    const {hosts, gateway} = await twoHostCluster(t, {
      BACKEND_LATENCY_MIN_MS: '4000',
      BACKEND_LATENCY_MAX_MS: '4000',
      MAX_WAIT_MS: '5',
    });
    const agents = Object.fromEntries(
      Array.from({length: 12}, (_, i) => [`a${i}`, {vector: [i], model: `m${i}`, agent_type: 't'}]),
    );
    let killedAt = Number.POSITIVE_INFINITY;
    const pending = streamLines(gateway.url, {agents}, () => killedAt);
    await sleep(400);
    killedAt = Date.now();
    await hosts[0].stop('SIGKILL');
    const lines = (await pending).filter((l) => l.line.id);
    t.is(lines.length, 12, 'every agent answered once');
    const failed = lines.filter((l) => l.line.error?.code === 'worker_failed');
    t.true(failed.length > 0 && failed.length < 12, `${failed.length} of 12 were on the killed host`);
    for (const f of failed) t.true(f.at < 2000, `worker_failed ${f.at} ms after the kill`);
    for (const l of lines.filter((x) => !x.line.error))
      t.is(l.line.prediction, predictRow(bias(l.line.id.replace('a', 'm'), 't'), [Number(l.line.id.slice(1))]));
    const again = await post(`${gateway.url}/predict`, {
      agents: Object.fromEntries(failed.map((f) => [f.line.id, agents[f.line.id]])),
    });
    t.is(again.status, 200, 'the keys moved to the survivor');
    t.false(again.body.errors);
    t.log(`worker_failed at ${failed.map((f) => f.at).join(', ')} ms after the kill`);
  },
);

test.serial(
  'an actor host stopped with SIGTERM leaves first, finishes what it holds, exits 0: no agent fails',
  async (t) => {
    // Its backend calls outlast the 1.5 s after which a silent host is gone: it keeps heartbeating while it finishes.
    const {hosts, gateway} = await twoHostCluster(t, {
      BACKEND_LATENCY_MIN_MS: '2500',
      BACKEND_LATENCY_MAX_MS: '2500',
      MAX_WAIT_MS: '5',
    });
    const agents = Object.fromEntries(
      Array.from({length: 12}, (_, i) => [`a${i}`, {vector: [i, 1], model: `m${i}`, agent_type: 't'}]),
    );
    const pending = post(`${gateway.url}/predict`, {agents});
    await sleep(300);
    const stopped = hosts[0].stop('SIGTERM');
    await sleep(100);
    // While the host drains, new requests go to the survivor only.
    const during = await post(`${gateway.url}/predict`, {agents});
    const reply = await pending;
    t.is(await stopped, 0, 'exit 0');
    for (const r of [reply, during]) {
      t.is(r.status, 200);
      t.false(r.body.errors, JSON.stringify(r.body));
      for (let i = 0; i < 12; i++) t.is(r.body.results[`a${i}`].prediction, predictRow(bias(`m${i}`, 't'), [i, 1]));
    }
    t.true(hosts[0].output().includes('leaving: finishing what this host holds'));
    const hostsDuring = new Set(Object.values<any>(during.body.results).map((r) => hostOf(r.batch.id)));
    t.is(hostsDuring.size, 1, 'the leaving host took no new keys');
  },
);

test.serial('a client that disconnects has its waiting rows withdrawn on the remote actor', async (t) => {
  const nats = await startNats();
  const host = await startActors(nats.url, {MAX_WAIT_MS: '800'});
  const gateway = await startGateway(nats.url);
  cleanup(t, nats, host, gateway);
  await sleep(300);
  const req = http.request(`${gateway.url}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}});
  req.on('error', () => {});
  req.end(
    JSON.stringify({
      agents: {a: {vector: [1], model: 'w', agent_type: 't'}, b: {vector: [2], model: 'w', agent_type: 't'}},
    }),
  );
  // Hang up once the gateway holds the request (on a busy machine admission can take a while).
  const openRequests = async () =>
    total(parsePrometheus(await (await fetch(`${gateway.url}/metrics`)).text()), 'agent_batcher_open_requests');
  for (let i = 0; i < 100 && (await openRequests()) === 0; i++) await sleep(20);
  await sleep(100);
  req.destroy();
  await sleep(400);
  const samples = parsePrometheus(await (await fetch(`${gateway.url}/metrics`)).text());
  t.is(
    total(samples, 'agent_batcher_withdrawals_total'),
    2,
    'the actor host confirmed both rows left their mailbox unsent',
  );
  t.is(total(samples, 'agent_batcher_backend_calls_total'), 0, 'no backend call was made for them');
});

test.serial(
  'a peer on another protocol version is refused with one log line, and the cluster keeps serving',
  async (t) => {
    const nats = await startNats();
    const host = await startActors(nats.url);
    const gateway = await startGateway(nats.url);
    cleanup(t, nats, host, gateway);
    const nc = await connect({servers: nats.url});
    t.teardown(() => nc.close());
    const frame = new Uint8Array(64);
    frame[0] = 0xab;
    frame[1] = 99;
    for (let i = 0; i < 5; i++) nc.publish('agent-batcher.members.h', frame);
    await nc.flush();
    const refusalLines = () =>
      gateway
        .output()
        .split('\n')
        .filter((l) => l.includes('refused a cluster frame'));
    // The five are counted: wait for the metric, then the log holds every line it will.
    await until(async () => (await metric(gateway.url, 'agent_batcher_cluster_refused_total')) >= 5);
    const refusals = refusalLines();
    t.is(refusals.length, 1, 'logged once, the others counted');
    t.regex(refusals[0], new RegExp(`"reason":"other_version".*protocol version 99, expected ${wireVersion}`));
    const reply = await post(`${gateway.url}/predict`, {agents: {a: {vector: [2], model: 'm', agent_type: 't'}}});
    t.is(reply.body.results.a.prediction, predictRow(bias('m', 't'), [2]));
  },
);

test.serial(
  'NATS down: /readyz 503 and the request in flight answered by its deadline; NATS back: it recovers by itself',
  async (t) => {
    const nats = await startNats();
    const host = await startActors(nats.url, {BACKEND_LATENCY_MIN_MS: '1500', BACKEND_LATENCY_MAX_MS: '1500'});
    const gateway = await startGateway(nats.url, {REQUEST_TIMEOUT_MS: '2500'});
    const procs: Proc[] = [host, gateway];
    cleanup(t, ...procs);
    t.teardown(() => nats.stop('SIGKILL'));
    await sleep(300);
    const started = Date.now();
    const pending = post(`${gateway.url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
    await sleep(200);
    await nats.stop('SIGKILL');
    const reply = await pending;
    t.true(Date.now() - started < 4000, 'answered by its deadline');
    t.true(reply.status === 502 || reply.status === 504, `status ${reply.status}`);
    await sleep(1700);
    const down = await fetch(`${gateway.url}/readyz`);
    t.is(down.status, 503);
    t.deepEqual(await down.json(), {status: 'unavailable'});
    t.is(
      (await post(`${gateway.url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}})).body.error.code,
      'not_ready',
    );

    const again = await startNats(nats.port);
    t.teardown(() => again.stop('SIGKILL'));
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = (await fetch(`${gateway.url}/readyz`)).status === 200;
      if (!ready) await sleep(100);
    }
    t.true(ready, 'ready again once NATS is back and the host is heard');
    const after = await post(`${gateway.url}/predict`, {agents: {a: {vector: [3], model: 'm', agent_type: 't'}}});
    t.is(after.body.results.a.prediction, predictRow(bias('m', 't'), [3]));
  },
);

test.serial(
  'a gateway killed mid-request: the actor host drops its results and keeps serving the other gateway',
  async (t) => {
    const nats = await startNats();
    const host = await startActors(nats.url, {BACKEND_LATENCY_MIN_MS: '500', BACKEND_LATENCY_MAX_MS: '500'});
    const doomed = await startGateway(nats.url);
    const other = await startGateway(nats.url);
    cleanup(t, nats, host, doomed, other);
    await sleep(300);
    const lost = Array.from({length: 50}, (_, c) =>
      post(`${doomed.url}/predict`, {agents: {a: {vector: [c], model: 'm', agent_type: 't'}}}).catch(() => undefined),
    );
    await sleep(150);
    await doomed.stop('SIGKILL');
    await Promise.all(lost);
    const replies = await Promise.all(
      Array.from({length: 20}, (_, c) =>
        post(`${other.url}/predict`, {agents: {a: {vector: [c], model: 'm', agent_type: 't'}}}),
      ),
    );
    for (const [c, r] of replies.entries()) t.is(r.body.results.a.prediction, predictRow(bias('m', 't'), [c]));
    t.false(host.output().includes('"level":50'), 'no error on the actor host');
  },
);

test.serial('NATS credentials in the URL (or NATS_TOKEN) are used and never logged', async (t) => {
  const nats = await startNats(undefined, ['--user', 'batcher', '--pass', 's3cr3t-pass']);
  const withCreds = nats.url.replace('nats://', 'nats://batcher:s3cr3t-pass@');
  const host = await startActors(withCreds);
  const gateway = await startGateway(withCreds);
  cleanup(t, nats, host, gateway);
  const reply = await post(`${gateway.url}/predict`, {agents: {a: {vector: [4], model: 'm', agent_type: 't'}}});
  t.is(reply.body.results.a.prediction, predictRow(bias('m', 't'), [4]));
  for (const p of [host, gateway]) t.false(p.output().includes('s3cr3t-pass'), 'the password is in no log line');
  const token = await startNats(undefined, ['--auth', 'tok-123456']);
  t.teardown(() => token.stop('SIGKILL'));
  const tokenHost = await startActors(token.url, {NATS_TOKEN: 'tok-123456'});
  t.teardown(() => tokenHost.stop('SIGKILL'));
  t.true(tokenHost.output().includes('actor host up'));
  t.false(tokenHost.output().includes('tok-123456'));
});
