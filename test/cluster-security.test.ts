// The NATS bus is not trusted (issue #22, items 1–5). Each test is an attack on a real
// nats-server, with normal clients beside it whose every answer is checked against the formula;
// the attacker is a plain NATS client reading and writing raw frames, without the cluster key,
// with a wrong one, or (where it says so) holding the key like a compromised node.
// Each test also reads the refusal counters, which proves the attack frames reached their target.

import test from 'ava';
import {createSecretKey, randomBytes} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';
import {connect} from '@nats-io/transport-node';
import type {ConnectionOptions, Msg, NatsConnection} from '@nats-io/transport-node';
import {bootId, bootStart} from '../src/cluster/nats.ts';
import {replayLimits} from '../src/cluster/replay.ts';
import {FrameSigner, signFrame} from '../src/cluster/signing.ts';
import {decode, encode} from '../src/protocol/codec.ts';
import type {Frame, WireMessage} from '../src/protocol/codec.ts';
import {forEachPart, forEachResult, partStride} from '../src/protocol/messages.ts';
import {DispatchBuffer, ResultsBuffer} from '../src/protocol/outbox.ts';
import {cleanup, clusterKey, startActors, startGateway, startLockedNats, startNats} from './helpers/cluster.ts';
import type {Proc} from './helpers/cluster.ts';
import {exactClients} from './helpers/checked-burst.ts';
import {post} from './helpers/service.ts';
import {parsePrometheus, total} from './helpers/prom-text.ts';

const key = createSecretKey(Buffer.from(clusterKey));
const wrongKey = createSecretKey(randomBytes(32));
/** The key holder's start (a boot carries its start time: src/cluster/nats.ts). */
const evilBoot = bootId();

/** An attacker's connection (it does not hear its own frames), closed at teardown. */
async function attacker(t: {teardown(fn: () => unknown): void}, options: ConnectionOptions): Promise<NatsConnection> {
  const nc = await connect({noEcho: true, ...options});
  t.teardown(() => nc.close());
  return nc;
}

/** The header of any frame seen on the bus: readable by anyone on it without TLS (decode does not check the signature). */
function peek(msg: Msg): Frame | undefined {
  const decoded = decode(msg.data);
  return decoded.ok ? decoded.frame : undefined;
}

/** Refusals on a gateway's /metrics, by reason. */
async function refusals(url: string): Promise<Record<string, number>> {
  const samples = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
  const out: Record<string, number> = {};
  for (const s of samples) if (s.name === 'agent_batcher_cluster_refused_total') out[s.labels.reason] = s.value;
  return out;
}

const logLines = (p: Proc, text: string) =>
  p
    .output()
    .split('\n')
    .filter((l) => l.includes(text)).length;
/** Refusal log lines: the first of a spell and the summaries (refusals.ts). */
const refusalLines = (p: Proc) => logLines(p, 'refused a cluster frame') + logLines(p, 'refused more cluster frames');

/** Heartbeats seen on the bus: each host's name, boot and newest sequence number. */
function watchHosts(nc: NatsConnection): Map<string, {boot: string; seq: number; bytes: Uint8Array; subject: string}> {
  const hosts = new Map<string, {boot: string; seq: number; bytes: Uint8Array; subject: string}>();
  nc.subscribe('agent-batcher.members.*', {
    callback: (_err, msg) => {
      const frame = peek(msg);
      if (frame?.kind === 'heartbeat' && !frame.leaving)
        hosts.set(frame.sender, {boot: frame.boot, seq: frame.seq, bytes: msg.data, subject: msg.subject});
    },
  });
  return hosts;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const stop = Date.now() + timeoutMs; !condition() && Date.now() < stop; ) await sleep(20);
}

async function untilAsync(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  for (const stop = Date.now() + timeoutMs; !(await condition()) && Date.now() < stop; ) await sleep(20);
}

/** agent_batcher_open_requests on a gateway's /metrics. */
async function openRequests(url: string): Promise<number> {
  const samples = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
  return samples.find((s) => s.name === 'agent_batcher_open_requests')?.value ?? 0;
}

/**
 * nats-server, one actor host (with `hostEnv`) and one gateway, killed at teardown, and an
 * attacker on the bus who has heard the host's heartbeats (`seen` keeps the newest).
 */
async function oneHostCluster(t: {teardown(fn: () => unknown): void}, hostEnv: Record<string, string> = {}) {
  const nats = await startNats();
  const host = await startActors(nats.url, hostEnv);
  const gateway = await startGateway(nats.url);
  cleanup(t, nats, host, gateway);
  const spy = await attacker(t, {servers: nats.url});
  const seen = watchHosts(spy);
  await until(() => seen.size === 1);
  const [[hostName, real]] = seen;
  return {host, gateway, spy, seen, hostName, real};
}

test.serial(
  'attack 1: forged results for every dispatched part (unsigned, mis-signed, altered, replayed, or signed by a member the part was not sent to) are all refused; 200 normal clients get exact answers',
  async (t) => {
    const {gateway, spy} = await oneHostCluster(t, {MAX_WAIT_MS: '20'});
    // A key holder (a compromised node) joins as a member that takes no keys, to answer for parts it was never sent.
    const evil = new FrameSigner(key, {sender: 'evil', boot: evilBoot});
    const beat = (leaving: boolean) =>
      spy.publish(
        'agent-batcher.members.evil',
        evil.sign('agent-batcher.members.evil', {kind: 'heartbeat', threads: 1, leaving}),
      );
    beat(false);
    beat(true);
    const beats = setInterval(() => beat(true), 300);
    t.teardown(() => clearInterval(beats));
    let forgedParts = 0;
    spy.subscribe('agent-batcher.>', {
      callback: (_err, msg) => {
        const [, kind, to, boot, thread, from] = msg.subject.split('.');
        if (kind === 'gateway') {
          // A genuine results frame: sent again as it is, and with one prediction's bits changed.
          spy.publish(msg.subject, msg.data);
          const altered = Uint8Array.from(msg.data);
          altered[altered.length - 32 - 8 * 2 - 3] ^= 0x10;
          spy.publish(msg.subject, altered);
          return;
        }
        const frame = kind === 'host' ? peek(msg) : undefined;
        if (frame?.kind !== 'dispatch') return;
        // Every part just dispatched gets a forged prediction, published before the real one can come.
        const buffer = new ResultsBuffer();
        forEachPart(frame, (partId) => buffer.prediction(partId, 12345, {id: 'b-forged', size: 1}));
        forgedParts += frame.parts.length / partStride;
        const message: WireMessage = {...buffer.take()!, thread: Number(thread)};
        const inbox = `agent-batcher.gateway.${from}.${frame.boot}.${to}`;
        spy.publish(inbox, encode(message, {sender: to, boot, seq: 1e6, ts: Date.now()}));
        spy.publish(inbox, new FrameSigner(wrongKey, {sender: to, boot}).sign(inbox, message));
        const evilInbox = `agent-batcher.gateway.${from}.${frame.boot}.evil`;
        spy.publish(evilInbox, evil.sign(evilInbox, {...message, thread: 0}));
      },
    });
    await spy.flush();
    await sleep(500);
    const problems = await exactClients([gateway.url], 200);
    t.deepEqual(problems, [], 'every normal agent got its own exact prediction, none the forged 12345');
    t.true(forgedParts >= 200, `${forgedParts} parts were answered by the forger`);
    const refused = await refusals(gateway.url);
    t.log('refused:', JSON.stringify(refused));
    t.true(
      refused.unsigned > 0 && refused.bad_signature > 0 && refused.replayed > 0,
      'unsigned, mis-signed or altered, and replayed frames reached the gateway',
    );
    // (A forged result that comes after the real one finds its part answered and is simply dropped.)
    t.true(
      refused.wrong_member >= forgedParts / 2 && refused.wrong_member <= forgedParts,
      'the key holder’s results for parts sent elsewhere, refused one by one',
    );
    t.true(refusalLines(gateway) <= 4, `${refusalLines(gateway)} refusal log lines for thousands of frames`);
  },
);

test.serial(
  'attack 2: forged leaving heartbeats for the host change nothing; one signed by a key holder lasts only until the host heartbeats again',
  async (t) => {
    const {gateway, spy, seen} = await oneHostCluster(t);
    const urls = [gateway.url];
    const flood = setInterval(() => {
      for (const [name, h] of seen) {
        const subject = `agent-batcher.members.${name}`;
        const leaving: WireMessage = {kind: 'heartbeat', threads: 1, leaving: true};
        spy.publish(subject, encode(leaving, {sender: name, boot: h.boot, seq: h.seq + 1, ts: Date.now()}));
        spy.publish(subject, new FrameSigner(wrongKey, {sender: name, boot: h.boot}).sign(subject, leaving));
        spy.publish(h.subject, h.bytes); // the host's own last heartbeat, again
      }
    }, 40);
    const notReady: number[] = [];
    const watching = (async () => {
      for (let i = 0; i < 25; i++) {
        for (const url of urls) if ((await fetch(`${url}/readyz`)).status !== 200) notReady.push(i);
        await sleep(60);
      }
    })();
    const problems = await exactClients(urls, 100);
    await watching;
    clearInterval(flood);
    t.deepEqual(problems, []);
    t.deepEqual(notReady, [], 'the gateway stayed ready');
    const r = await refusals(gateway.url);
    t.true(r.unsigned > 0 && r.bad_signature > 0 && r.replayed > 0, JSON.stringify(r));
    t.is(logLines(gateway, 'actor host leaving'), 0);

    // A key holder signs a leaving beat in the host's name and start (with a sequence number the
    // host has not used yet: a little ahead of its clock, src/cluster/replay.ts): the gateway
    // believes it, until the host's next heartbeat (400 ms).
    for (const [name, h] of seen) {
      const subject = `agent-batcher.members.${name}`;
      spy.publish(
        subject,
        signFrame(
          key,
          subject,
          encode(
            {kind: 'heartbeat', threads: 1, leaving: true},
            {
              sender: name,
              boot: h.boot,
              seq: (Date.now() - bootStart(h.boot)!) * replayLimits.seqPerMs + 100,
              ts: Date.now(),
            },
          ),
        ),
      );
    }
    await spy.flush();
    await until(() => logLines(gateway, 'actor host heartbeats again') === 1, 3000);
    t.is(logLines(gateway, 'actor host leaving'), 1, 'the key holder’s beat was believed');
    t.is(logLines(gateway, 'actor host heartbeats again'), 1, 'and left behind by the host’s next heartbeat');
    t.is((await fetch(`${gateway.url}/readyz`)).status, 200);
    t.deepEqual(await exactClients(urls, 60, {prefix: 'after'}), []);
  },
);

test.serial(
  'attack 3: a join flood of forged members (fake hosts with 256 threads, a real host claiming 256) takes no key and writes no line per frame; a host answers at once for a thread it never started',
  async (t) => {
    const {host, gateway, spy, hostName, real} = await oneHostCluster(t);
    let fakes = 0;
    const flood = setInterval(() => {
      for (let i = 0; i < 4; i++) {
        const name = `fake${fakes++}`;
        const subject = `agent-batcher.members.${name}`;
        const join: WireMessage = {kind: 'heartbeat', threads: 256};
        spy.publish(
          subject,
          i % 2
            ? encode(join, {sender: name, boot: 'b', seq: 1, ts: Date.now()})
            : new FrameSigner(wrongKey, {sender: name, boot: 'b'}).sign(subject, join),
        );
      }
      spy.publish(
        real.subject,
        encode(
          {kind: 'heartbeat', threads: 256},
          {sender: hostName, boot: real.boot, seq: real.seq + 5, ts: Date.now()},
        ),
      );
    }, 20);
    // 40 keys, every one of them placed while the flood goes on.
    const problems = await exactClients([gateway.url], 120, {models: 40, prefix: 'flood'});
    clearInterval(flood);
    t.deepEqual(problems, [], 'no key went to a forged member: none waited for its deadline');
    t.true(fakes > 200, `${fakes} fake hosts tried to join`);
    const r = await refusals(gateway.url);
    t.true(r.unsigned + r.bad_signature >= fakes, JSON.stringify(r));
    t.is(logLines(gateway, 'actor host joined'), 1, 'only the real host ever joined');
    t.true(refusalLines(gateway) <= 3, `${refusalLines(gateway)} log lines for ${fakes} forged heartbeats`);

    // A key holder's dispatch for thread 7 of a host with one thread (as a gateway fooled by a
    // forged heartbeat would send it): answered worker_failed at once, never left to time out.
    const inbox = `agent-batcher.gateway.evilgw.${evilBoot}.${hostName}`;
    const answers: Frame[] = [];
    spy.subscribe(inbox, {
      callback: (_err, msg) => {
        answers.push(peek(msg)!);
      },
    });
    await spy.flush();
    const evil = new FrameSigner(key, {sender: 'evilgw', boot: evilBoot});
    const subject = `agent-batcher.host.${hostName}.${real.boot}.7.evilgw`;
    spy.publish(
      subject,
      evil.sign(subject, {
        kind: 'dispatch',
        keys: ['t\nm'],
        parts: Float64Array.of(1, 0, 1, Date.now() + 5000, 0, 2, 0, 1, Date.now() + 5000, 0),
        data: Float64Array.of(1, 2),
      }),
    );
    await until(() => answers.length > 0, 2000);
    const codes: string[] = [];
    if (answers[0]?.kind === 'results')
      forEachResult(answers[0], {
        prediction: () => codes.push('prediction'),
        error: (_id, code) => codes.push(code),
        withdrawn: () => codes.push('withdrawn'),
      });
    t.deepEqual(codes, ['worker_failed', 'worker_failed']);
    t.regex(host.output(), /"reason":"no_such_thread"/);
  },
);

test.serial(
  'attack 4: 20,000 junk subjects under a host’s and a gateway’s inboxes and forged batch reports for 40 keys leave no trace: a few log lines, no metric series',
  async (t) => {
    const {host, gateway, spy, hostName, real} = await oneHostCluster(t);
    let gatewayInbox: string | undefined;
    spy.subscribe('agent-batcher.host.>', {
      callback: (_err, msg) => {
        const frame = peek(msg);
        const [, , hostName] = msg.subject.split('.');
        if (frame) gatewayInbox = `agent-batcher.gateway.${frame.sender}.${frame.boot}.${hostName}`;
      },
    });
    t.deepEqual(await exactClients([gateway.url], 10), []);
    await until(() => gatewayInbox !== undefined);
    const junk = new Uint8Array(64);
    for (let i = 0; i < 10_000; i++) spy.publish(`agent-batcher.host.${hostName}.${real.boot}.${i}.x${i}`, junk);
    const [, , gatewayName, gatewayBoot] = gatewayInbox!.split('.');
    for (let i = 0; i < 10_000; i++) spy.publish(`agent-batcher.gateway.${gatewayName}.${gatewayBoot}.junk${i}`, junk);
    // Results frames carrying reports for 40 keys nobody asked for: unsigned, and signed by a key
    // holder that is a member (leaving, so that no key goes to it).
    const reports = new ResultsBuffer();
    for (let i = 0; i < 40; i++)
      reports.report({key: `t\nforged-${i}`, size: 1, backendMs: 5, result: 'ok', waitsMs: [1], windowMs: 5});
    const message: WireMessage = {...reports.take()!, thread: 0};
    const evil = new FrameSigner(key, {sender: 'evil', boot: evilBoot});
    spy.publish('agent-batcher.members.evil', evil.sign('agent-batcher.members.evil', {kind: 'heartbeat', threads: 1}));
    spy.publish(
      'agent-batcher.members.evil',
      evil.sign('agent-batcher.members.evil', {kind: 'heartbeat', threads: 1, leaving: true}),
    );
    spy.publish(gatewayInbox!, encode(message, {sender: hostName, boot: real.boot, seq: 1e6, ts: Date.now()}));
    const evilInbox = `agent-batcher.gateway.${gatewayName}.${gatewayBoot}.evil`;
    spy.publish(evilInbox, evil.sign(evilInbox, message));
    await spy.flush();
    t.deepEqual(await exactClients([gateway.url], 100), []);
    const samples = parsePrometheus(await (await fetch(`${gateway.url}/metrics`)).text());
    const models = new Set(
      samples.filter((s) => s.name === 'agent_batcher_backend_calls_total').map((s) => s.labels.model),
    );
    t.deepEqual(
      [...models].filter((m) => !/^m\d$/.test(m)),
      [],
      'metric series only for keys this gateway admitted',
    );
    t.true(
      total(samples, 'agent_batcher_cluster_refused_total') >= 10_000,
      'the junk reached the gateway and was counted',
    );
    t.true(refusalLines(gateway) <= 3, `gateway: ${refusalLines(gateway)} log lines`);
    t.true(refusalLines(host) <= 3, `host: ${refusalLines(host)} log lines for 10,000 junk subjects`);
    t.regex(
      host.output(),
      /"reason":"not_a_frame","subject":"agent-batcher\.host\./,
      'the junk reached the host (the rest is summed a while later)',
    );
  },
);

test.serial(
  'attack 5: a key holder speaking as a gateway sends a host 1,000 rows at once: the host holds its bound (MAX_PENDING_TOTAL), answers the rest worker_failed at once; the real gateway’s 60 clients get exact answers',
  async (t) => {
    const {host, gateway, spy, hostName, real} = await oneHostCluster(t, {
      MAX_PENDING_TOTAL: '200',
      MAX_PENDING_PER_MAILBOX: '200',
      MAX_AGENTS_PER_REQUEST: '200',
    });
    const inbox = `agent-batcher.gateway.evilgw.${evilBoot}.${hostName}`;
    const codes = new Map<string, number>();
    const messages = new Set<string>();
    spy.subscribe(inbox, {
      callback: (_err, msg) => {
        const frame = peek(msg);
        if (frame?.kind === 'results')
          forEachResult(frame, {
            prediction: () => codes.set('prediction', (codes.get('prediction') ?? 0) + 1),
            error: (_id, code, message) => {
              codes.set(code, (codes.get(code) ?? 0) + 1);
              messages.add(message);
            },
            withdrawn: () => codes.set('withdrawn', (codes.get('withdrawn') ?? 0) + 1),
          });
      },
    });
    await spy.flush();
    const buffer = new DispatchBuffer();
    for (let i = 1; i <= 1000; i++) buffer.add('t\nevil', i, Date.now() + 20_000, [i], 0);
    const evil = new FrameSigner(key, {sender: 'evilgw', boot: evilBoot});
    const subject = `agent-batcher.host.${hostName}.${real.boot}.0.evilgw`;
    spy.publish(subject, evil.sign(subject, buffer.dispatch()!));
    const problems = await exactClients([gateway.url], 60);
    t.deepEqual(problems, [], 'the real gateway’s clients: exact answers');
    await until(() => (codes.get('worker_failed') ?? 0) + (codes.get('prediction') ?? 0) >= 1000, 15_000);
    t.is(codes.get('worker_failed'), 800, 'all beyond the bound, answered at once');
    t.is(codes.get('prediction'), 200, 'the bound’s worth were served');
    t.true(
      [...messages].every((m) => m.startsWith('actor host overloaded')),
      [...messages].join(' | '),
    );
    t.regex(host.output(), /"reason":"gateway_rows"/);
  },
);

test.serial(
  'attack 6: a heartbeat of a host’s previous start, replayed to a fresh gateway, is believed only until the live start is heard: what was placed on it fails worker_failed, not at its deadline, and the replays change nothing after; 60 clients then get exact answers',
  async (t) => {
    const nats = await startNats();
    const first = await startActors(nats.url, {CLUSTER_NODE: 'h'});
    cleanup(t, nats, first);
    const spy = await attacker(t, {servers: nats.url});
    const seen = watchHosts(spy);
    await until(() => seen.size === 1);
    const oldBoot = seen.get('h')!.boot;
    await first.stop('SIGKILL');
    // The previous start's heartbeat, again and again (signed anew: a key holder, or a recording still fresh).
    const old = new FrameSigner(key, {sender: 'h', boot: oldBoot});
    const replay = setInterval(
      () =>
        spy.publish('agent-batcher.members.h', old.sign('agent-batcher.members.h', {kind: 'heartbeat', threads: 1})),
      100,
    );
    t.teardown(() => clearInterval(replay));
    const gateway = await startGateway(nats.url);
    cleanup(t, gateway);
    // Ready means it has a member; its log line may reach this process a moment after /readyz's answer.
    await until(() => gateway.output().includes(`"hostBoot":"${oldBoot}"`));
    t.regex(gateway.output(), new RegExp(`"hostBoot":"${oldBoot}"`), 'the fresh gateway took the old start');
    // A request placed on the old start (nobody serves it), its deadline 30 s away.
    const placed = post(`${gateway.url}/predict`, {agents: {a: {vector: [1, 2], model: 'm0', agent_type: 't'}}});
    await untilAsync(async () => (await openRequests(gateway.url)) === 1);
    t.is(await openRequests(gateway.url), 1, 'the request waits on the old start');
    const second = await startActors(nats.url, {CLUSTER_NODE: 'h'});
    cleanup(t, second);
    const reply = await placed;
    t.is(reply.status, 502);
    t.regex(JSON.stringify(reply.body), /worker_failed/, 'failed when the live start was heard, not at its deadline');
    t.deepEqual(await exactClients([gateway.url], 60), [], 'every key on the live start, the replays go on');
    t.true((await refusals(gateway.url)).old_boot > 0, 'the old start’s heartbeats are refused now');
    t.is(logLines(gateway, 'actor host restarted'), 1);
    t.is(logLines(gateway, 'actor host joined'), 2);
  },
);

test.serial(
  'locked down (scripts/nats/cluster.conf: TLS with client certificates, a user per node): 500 exact answers; a gateway’s credential with the key can neither read another gateway’s results nor withdraw its parts',
  async (t) => {
    const nats = await startLockedNats();
    const hosts = [await startActors('', nats.envFor('host1'))];
    const gateways = [
      await startGateway('', {...nats.envFor('gw1'), REQUEST_TIMEOUT_MS: '5000'}),
      await startGateway('', {...nats.envFor('gw2'), REQUEST_TIMEOUT_MS: '5000'}),
    ];
    cleanup(t, nats, ...hosts, ...gateways);
    const {certificates: c, passwords} = nats;
    const tls = {caFile: c.ca, certFile: c.clientCert, keyFile: c.clientKey};
    const servers = `127.0.0.1:${nats.port}`;

    // Outsiders: without a client certificate, without TLS, or without a password, no connection.
    for (const options of [
      {user: 'gw1', pass: passwords.gw1, tls: {caFile: c.ca}},
      {user: 'gw1', pass: passwords.gw1},
      {tls},
      {user: 'gw1', pass: 'guess', tls},
    ]) {
      await t.throwsAsync(
        connect({servers, ...options, timeout: 1500, reconnect: false}),
        undefined,
        JSON.stringify(Object.keys(options)),
      );
    }

    // gw1's credential and the cluster key, in an attacker's hands.
    const thief = await attacker(t, {servers, user: 'gw1', pass: passwords.gw1, tls});
    const snooped: string[] = [];
    const denied: Promise<unknown>[] = [];
    for (const subject of ['agent-batcher.gateway.gw2.>', 'agent-batcher.host.>', 'agent-batcher.>']) {
      const sub = thief.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) snooped.push(msg.subject);
        },
      });
      denied.push(sub.closed);
    }
    const seen = watchHosts(thief);
    await until(() => seen.size === 1);
    t.deepEqual([...seen.keys()], ['host1'], 'a gateway credential reads heartbeats');
    // The thief even knows gw2's boot (say, from a log line), and signs with sequence numbers ahead of gw2's.
    const gw2Boot = /"gateway":"gw2","boot":"([0-9a-f]+)"/.exec(gateways[1].output())?.[1];
    t.truthy(gw2Boot);
    let sprayed = 0;
    const spray = setInterval(() => {
      // Every part id gw2 gives out in this test (500 clients, 1–3 agents each, half of them through gw2).
      const withdrawals = Array.from({length: 6}, (_, m) => ({
        key: `t\nm${m}`,
        partIds: Array.from({length: 600}, (_, i) => i + 1),
      }));
      for (const [name, h] of seen) {
        // In gw2's name on gw2's subject: the server refuses to carry it. On gw1's own subject: the host refuses it.
        for (const subject of [
          `agent-batcher.host.${name}.${h.boot}.0.gw2`,
          `agent-batcher.host.${name}.${h.boot}.0.gw1`,
        ]) {
          const envelope = {sender: 'gw2', boot: gw2Boot!, seq: 1e6 + ++sprayed, ts: Date.now()};
          thief.publish(subject, signFrame(key, subject, encode({kind: 'withdraw', withdrawals}, envelope)));
        }
      }
    }, 50);
    const problems = await exactClients(
      gateways.map((g) => g.url),
      500,
    );
    clearInterval(spray);
    t.deepEqual(problems, [], '500 clients over both gateways: exact answers, none withdrawn by the thief');
    t.true(sprayed > 20);
    const violations = await Promise.all(
      denied.map((closed) => Promise.race([closed, sleep(1000).then(() => 'still open')])),
    );
    for (const v of violations) t.regex(String(v), /Permissions Violation for Subscription/);
    t.deepEqual(snooped, [], 'nothing read');
    t.true(
      hosts.some((h) => /"reason":"wrong_sender"/.test(h.output())),
      'the host refused the withdrawal signed as gw2 on gw1’s subject',
    );
    for (const p of [...hosts, ...gateways]) t.true(p.output().includes('"tls":true'), 'every node connected over TLS');
    for (const p of [...hosts, ...gateways])
      for (const pass of Object.values(passwords)) t.false(p.output().includes(pass), 'no password in a log line');
  },
);
