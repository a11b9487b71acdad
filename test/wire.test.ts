// The checks every cluster frame passes before a handler reads it (src/cluster/wire.ts): signed
// with the cluster key for the subject it came on, of our shape, naming the sender its subject
// names, fresh and not seen before. Each refusal is counted by its reason; the log stays bounded.

import test from 'ava';
import {createSecretKey, randomBytes} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';
import type {NatsConnection} from '@nats-io/transport-node';
import {bootId, subjects} from '../src/cluster/nats.ts';
import {FrameSigner, signFrame} from '../src/cluster/signing.ts';
import {Wire} from '../src/cluster/wire.ts';
import {createLogger} from '../src/log.ts';
import {encode} from '../src/protocol/codec.ts';
import type {WireMessage} from '../src/protocol/codec.ts';
import {forEachPart} from '../src/protocol/messages.ts';
import {DispatchBuffer} from '../src/protocol/outbox.ts';

const key = createSecretKey(randomBytes(32));
const on = subjects('agent-batcher');
const toHost1 = on.thread('host1', 'hb', 0, 'gw1');

function dispatchOf(vectors: number[][]): WireMessage {
  const buffer = new DispatchBuffer();
  for (const [i, v] of vectors.entries()) buffer.add('t\nm', i + 1, Date.now() + 1000, v, 0);
  return buffer.dispatch()!;
}

/** Each test node's start, a minute ago (a boot carries its start time). */
const boots = new Map<string, string>();
const bootOf = (sender: string) => boots.get(sender) ?? boots.set(sender, bootId(Date.now() - 60_000)).get(sender)!;

/** A node's wire on a fake connection: what it publishes is kept, its log lines too. */
function node(sender: string, options: {key?: typeof key; logIntervalMs?: number} = {}) {
  const sent: {subject: string; bytes: Uint8Array}[] = [];
  const lines: string[] = [];
  const connection = {
    publish: (subject: string, bytes: Uint8Array) => sent.push({subject, bytes}),
  } as unknown as NatsConnection;
  const wire = new Wire({
    connection: () => connection,
    key: options.key ?? key,
    identity: {sender, boot: bootOf(sender)},
    prefix: 'agent-batcher',
    log: createLogger('info', {write: (line: string) => lines.push(line)}),
    logIntervalMs: options.logIntervalMs,
  });
  return {wire, sent, lines, last: () => sent[sent.length - 1]};
}

test('a signed frame reads back whole, with who sent it', (t) => {
  const gw1 = node('gw1');
  const host1 = node('host1');
  gw1.wire.publish(toHost1, dispatchOf([[1, 2.5], [-3]]));
  const received = host1.wire.read(gw1.last().subject, gw1.last().bytes);
  t.truthy(received);
  t.like(received?.frame, {kind: 'dispatch', sender: 'gw1', boot: bootOf('gw1')});
  t.like(received?.route, {kind: 'host', host: 'host1', boot: 'hb', thread: 0, sender: 'gw1'});
  const vectors: number[][] = [];
  if (received?.frame.kind === 'dispatch') forEachPart(received.frame, (_id, _k, _d, v) => vectors.push([...v]));
  t.deepEqual(vectors, [[1, 2.5], [-3]]);
  t.is(host1.wire.refusals.size, 0);
});

test('unsigned, mis-signed, altered and moved frames are refused before they are parsed, each by its reason', (t) => {
  const gw1 = node('gw1');
  const host1 = node('host1');
  const message = dispatchOf([[1, 2]]);
  const refusedAs = (bytes: Uint8Array, subject = toHost1) => {
    const before = new Map(host1.wire.refusals);
    t.is(host1.wire.read(subject, bytes), undefined);
    return [...host1.wire.refusals].find(([reason, n]) => n !== (before.get(reason) ?? 0))?.[0];
  };
  // Never signed: the encoder alone leaves the signature zero.
  t.is(refusedAs(encode(message, {sender: 'gw1', boot: 'b', seq: 1, ts: Date.now()})), 'unsigned');
  // Signed with another key.
  const forger = node('gw1', {key: createSecretKey(randomBytes(32))});
  forger.wire.publish(toHost1, message);
  t.is(refusedAs(forger.last().bytes), 'bad_signature');
  // A real frame with one float changed (a forged prediction or vector).
  gw1.wire.publish(toHost1, message);
  const altered = Uint8Array.from(gw1.last().bytes);
  altered[altered.length - 40] ^= 1;
  t.is(refusedAs(altered), 'bad_signature');
  // A real frame published on another subject (another thread, another gateway's inbox).
  t.is(refusedAs(gw1.last().bytes, on.thread('host1', 'hb', 1, 'gw1')), 'bad_signature');
  // Bytes that are not a frame of this version.
  const old = Uint8Array.from(gw1.last().bytes);
  old[1] = 2;
  t.is(refusedAs(old), 'other_version');
  t.is(refusedAs(new Uint8Array([1, 2, 3])), 'not_a_frame');
  // The untouched frame still reads.
  t.truthy(host1.wire.read(toHost1, gw1.last().bytes));
});

test('a replayed frame is refused; frames that overtake each other are not', (t) => {
  const gw1 = node('gw1');
  const host1 = node('host1');
  for (let i = 0; i < 3; i++) gw1.wire.publish(toHost1, dispatchOf([[i]]));
  const [a, b, c] = gw1.sent;
  t.truthy(host1.wire.read(c.subject, c.bytes));
  t.truthy(host1.wire.read(a.subject, a.bytes), 'an older frame not yet seen passes');
  t.is(host1.wire.read(a.subject, a.bytes), undefined);
  t.is(host1.wire.read(c.subject, c.bytes), undefined);
  t.truthy(host1.wire.read(b.subject, b.bytes));
  t.is(host1.wire.refusals.get('replayed'), 2);
});

test('a frame signed more than 10 s before or after our clock is stale', (t) => {
  const host1 = node('host1');
  for (const skew of [-60_000, 60_000]) {
    const signer = new FrameSigner(key, {sender: 'gw1', boot: bootOf('gw1')}, () => Date.now() + skew);
    t.is(host1.wire.read(toHost1, signer.sign(toHost1, dispatchOf([[1]]))), undefined);
  }
  t.is(host1.wire.refusals.get('stale'), 2);
  const onTime = new FrameSigner(key, {sender: 'gw1', boot: bootOf('gw1')}, () => Date.now() - 2000);
  t.truthy(host1.wire.read(toHost1, onTime.sign(toHost1, dispatchOf([[1]]))), 'two seconds late is fresh');
});

test('a key holder signing as one node on another node’s subject is refused (wrong_sender); a kind on the wrong subject too', (t) => {
  const gw2 = node('gw2');
  const host1 = node('host1');
  // gw2 (holding the key) sends a withdrawal on gw1's subject, to withdraw gw1's parts.
  gw2.wire.publish(toHost1, {kind: 'withdraw', withdrawals: [{key: 't\nm', partIds: [1, 2]}]});
  t.is(host1.wire.read(toHost1, gw2.last().bytes), undefined);
  t.is(host1.wire.refusals.get('wrong_sender'), 1);
  // A heartbeat where dispatches go; results on the members subject.
  gw2.wire.publish(on.thread('host1', 'hb', 0, 'gw2'), {kind: 'heartbeat', threads: 4});
  t.is(host1.wire.read(gw2.last().subject, gw2.last().bytes), undefined);
  t.is(host1.wire.refusals.get('wrong_kind'), 1);
  gw2.wire.publish('agent-batcher.host.host1', dispatchOf([[1]]));
  t.is(host1.wire.read(gw2.last().subject, gw2.last().bytes), undefined);
  t.is(host1.wire.refusals.get('bad_subject'), 1);
});

test('a flood of forged frames on 2,000 subjects is counted in full and logged in two lines', async (t) => {
  const host1 = node('host1', {logIntervalMs: 100});
  const forger = node('gw1', {key: createSecretKey(randomBytes(32))});
  for (let i = 0; i < 2000; i++) {
    const subject = on.thread('host1', 'hb', 0, `junk${i}`);
    forger.wire.publish(subject, dispatchOf([[i]]));
    host1.wire.read(subject, forger.last().bytes);
  }
  t.is(host1.wire.refusals.get('bad_signature'), 2000);
  t.is(host1.lines.length, 1, 'the first one logged at once');
  t.regex(host1.lines[0], /"reason":"bad_signature".*refused a cluster frame/);
  await sleep(250);
  t.is(host1.lines.length, 2, 'the rest summed in one line');
  t.regex(host1.lines[1], /"refused":\{"bad_signature":1999\}/);
  host1.wire.close();
});

test('attack: a key holder’s frames with a boot that carries no start time, signed before their start, or with seq 2^53-1 are refused; the real sender is heard on', (t) => {
  const host1 = node('host1');
  const gw1 = node('gw1');
  const refusedAs = (envelope: {boot: string; seq: number; ts: number}) => {
    const bytes = signFrame(key, toHost1, encode(dispatchOf([[9]]), {sender: 'gw1', ...envelope}));
    t.is(host1.wire.read(toHost1, bytes), undefined);
  };
  refusedAs({boot: 'e1', seq: 1, ts: Date.now()});
  refusedAs({boot: bootId(Date.now() + 5000), seq: 1, ts: Date.now()});
  refusedAs({boot: bootOf('gw1'), seq: Number.MAX_SAFE_INTEGER, ts: Date.now()});
  t.is(host1.wire.refusals.get('bad_boot'), 2);
  t.is(host1.wire.refusals.get('seq_ahead'), 1);
  for (let i = 0; i < 3; i++) {
    gw1.wire.publish(toHost1, dispatchOf([[i]]));
    t.truthy(host1.wire.read(toHost1, gw1.last().bytes), 'the real gw1, after the attack');
  }
});

test('attack H1: a later start that mayStart refuses leaves the live start heard (its heartbeats and results still pass); an admitted one replaces it', (t) => {
  const gateway = node('gw1');
  const members = on.members('host1');
  const live = new FrameSigner(key, {sender: 'host1', boot: bootId(Date.now() - 30_000)});
  const beat = (signer: FrameSigner) => signer.sign(members, {kind: 'heartbeat', threads: 1});
  let refuse = true;
  const mayStart = () => (refuse ? ('restart_rate' as const) : undefined);
  t.truthy(gateway.wire.read(members, beat(live), mayStart), 'the live start, first heard');
  for (let i = 0; i < 20; i++) {
    const restart = new FrameSigner(key, {sender: 'host1', boot: bootId(Date.now() - 1000 + i)});
    t.is(gateway.wire.read(members, beat(restart), mayStart), undefined, 'a refused restart');
    t.truthy(gateway.wire.read(members, beat(live), mayStart), 'the live start still heard');
  }
  t.is(gateway.wire.refusals.get('restart_rate'), 20);
  t.is(gateway.wire.refusals.get('old_boot'), undefined);
  refuse = false;
  const admitted = new FrameSigner(key, {sender: 'host1', boot: bootId(Date.now() - 10)});
  t.truthy(gateway.wire.read(members, beat(admitted), mayStart));
  t.is(gateway.wire.read(members, beat(live), mayStart), undefined);
  t.is(gateway.wire.refusals.get('old_boot'), 1, 'the earlier start, once a later one was taken');
});
