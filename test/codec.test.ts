import test from 'ava';
import {rendezvous} from '../src/cluster/rendezvous.ts';
import {decode, encode, splitDispatch, wireVersion} from '../src/protocol/codec.ts';
import type {ToHost} from '../src/protocol/codec.ts';
import type {DispatchMessage} from '../src/protocol/messages.ts';

const dispatch = (vectors: number[][]): DispatchMessage & {from: string} => {
  let offset = 0;
  const parts = vectors.map((v, i) => {
    const p = {partId: i + 1, requestId: `r${i}`, keyIndex: 0, offset, length: v.length, deadline: 1.5e12 + i};
    offset += v.length;
    return p;
  });
  return {kind: 'dispatch', from: 'gw-1', keys: ['t\nm'], parts, data: Float64Array.from(vectors.flat())};
};

test('a dispatch frame round-trips exactly, vectors as raw float64', (t) => {
  const message = dispatch([[0.1, -2.5e-300, 1e308], [Math.PI], [Number.MIN_VALUE, -0]]);
  const decoded = decode(encode(message));
  t.true(decoded.ok);
  if (!decoded.ok) return;
  const m = decoded.message as ToHost & DispatchMessage;
  t.deepEqual(m.parts, message.parts);
  t.deepEqual(Array.from(m.data), Array.from(message.data));
  t.is(m.from, 'gw-1');
  t.true(m.data instanceof Float64Array);
});

test('results keep every float64 exact', (t) => {
  const values = [0.1 + 0.2, 1 / 3, -1e-310, 2 ** 53 + 2];
  const results = values.map((prediction, i) => ({partId: i, requestId: 'r', outcome: 'prediction' as const, prediction, batch: {id: 'b-x', size: 4}}));
  const decoded = decode(encode({kind: 'results', results, batches: []}));
  t.true(decoded.ok && decoded.message.kind === 'results');
  if (decoded.ok && decoded.message.kind === 'results') t.deepEqual(decoded.message.results.map((r) => (r.outcome === 'prediction' ? r.prediction : 0)), values);
});

test('a frame of another protocol version, or no frame at all, is refused, never misread', (t) => {
  const bytes = encode({kind: 'heartbeat', host: 'h', threads: 2});
  bytes[1] = wireVersion + 98;
  const refused = decode(bytes);
  t.false(refused.ok);
  if (!refused.ok) {
    t.is(refused.version, 99);
    t.regex(refused.reason, /protocol version 99, expected 1/);
  }
  t.false(decode(new TextEncoder().encode('{"kind":"heartbeat"}')).ok);
  t.false(decode(new Uint8Array([0xab, wireVersion, 0, 0, 255, 255, 0, 0])).ok, 'a header longer than the frame');
});

test('a dispatch over the payload limit is split into whole parts, each with its own vectors', (t) => {
  const vectors = Array.from({length: 10}, (_, i) => Array.from({length: 20_000}, (_, j) => i * 1e5 + j));
  const message = dispatch(vectors);
  const pieces = splitDispatch(message, 1024 * 1024);
  t.true(pieces.length > 1);
  for (const piece of pieces) t.true(encode(piece).length <= 1024 * 1024);
  const back = pieces.flatMap((p) => p.parts.map((part) => Array.from(p.data.subarray(part.offset, part.offset + part.length))));
  t.deepEqual(back, vectors);
  t.deepEqual(pieces.flatMap((p) => p.parts.map((x) => x.partId)), message.parts.map((x) => x.partId));
});

test('rendezvous: every caller agrees; a member leaving moves only its own keys; a joiner takes about 1/n', (t) => {
  const members = ['h1/0', 'h1/1', 'h2/0', 'h2/1'];
  const keys = Array.from({length: 2000}, (_, i) => `t\nmodel-${i}`);
  const before = new Map(keys.map((k) => [k, rendezvous(k, members)]));
  t.deepEqual(new Map(keys.map((k) => [k, rendezvous(k, [...members].reverse())])), before, 'order does not matter');
  const counts = new Map<string, number>();
  for (const m of before.values()) counts.set(m!, (counts.get(m!) ?? 0) + 1);
  for (const c of counts.values()) t.true(c > 400 && c < 600, `spread ${[...counts.values()]}`);
  const without = members.filter((m) => m !== 'h2/0');
  for (const k of keys) {
    const now = rendezvous(k, without);
    if (before.get(k) !== 'h2/0') t.is(now, before.get(k));
  }
  const joined = [...members, 'h3/0'];
  const moved = keys.filter((k) => rendezvous(k, joined) !== before.get(k));
  t.true(moved.every((k) => rendezvous(k, joined) === 'h3/0'), 'keys move only to the joiner');
  t.true(moved.length > 300 && moved.length < 500, `${moved.length} of 2000 moved`);
  t.is(rendezvous('k', []), undefined);
});
