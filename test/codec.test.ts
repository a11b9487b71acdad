import test from 'ava';
import {rendezvous} from '../src/cluster/rendezvous.ts';
import {splitDispatch, splitResults, splitWithdrawal} from '../src/cluster/split-dispatch.ts';
import {decode, encode as encodeFrom, wireVersion} from '../src/protocol/codec.ts';
import type {Envelope, WireMessage} from '../src/protocol/codec.ts';
import {forEachPart, PartField} from '../src/protocol/messages.ts';
import type {DispatchMessage, ResultsMessage} from '../src/protocol/messages.ts';
import {DispatchBuffer, ResultsBuffer} from '../src/protocol/outbox.ts';
import {readResults} from './helpers/results.ts';

const envelope: Envelope = {sender: 'gw-1', boot: 'b00t', seq: 7, ts: 1.7e12};
/** A frame of `message` from gw-1, unsigned (signing is test/wire.test.ts's). */
const encode = (message: WireMessage) => encodeFrom(message, envelope);

/** A dispatch as a gateway builds it: part i+1 of key 't\nm' carries vectors[i]. */
const dispatch = (vectors: number[][]): DispatchMessage => {
  const buffer = new DispatchBuffer();
  for (const [i, v] of vectors.entries()) buffer.add('t\nm', i + 1, 1.5e12 + i, v, i % 3);
  return buffer.dispatch() as DispatchMessage;
};

/** Each part's vector, in part order. */
function vectorsOf(message: DispatchMessage): number[][] {
  const out: number[][] = [];
  forEachPart(message, (_partId, _keyIndex, _deadline, vector) => out.push(Array.from(vector)));
  return out;
}

function partIds(message: DispatchMessage): number[] {
  const out: number[] = [];
  forEachPart(message, (partId) => out.push(partId));
  return out;
}

/** Each part's client number, in part order. */
function clientsOf(message: DispatchMessage): number[] {
  const out: number[] = [];
  forEachPart(message, (_partId, _keyIndex, _deadline, _vector, client) => out.push(client));
  return out;
}

test('a dispatch frame round-trips exactly, vectors as raw float64, with its envelope', (t) => {
  const message = dispatch([[0.1, -2.5e-300, 1e308], [Math.PI], [Number.MIN_VALUE, -0]]);
  const decoded = decode(encode(message));
  t.true(decoded.ok);
  if (!decoded.ok || decoded.frame.kind !== 'dispatch') return;
  const m = decoded.frame;
  t.deepEqual(Array.from(m.parts), Array.from(message.parts));
  t.deepEqual(vectorsOf(m), [[0.1, -2.5e-300, 1e308], [Math.PI], [Number.MIN_VALUE, -0]]);
  t.deepEqual(clientsOf(m), [0, 1, 2], 'each part keeps its client number');
  t.true(Object.is(m.data[m.data.length - 1], -0));
  t.like(m, envelope);
  t.true(m.data instanceof Float64Array);
});

test('results keep every float64 exact', (t) => {
  const values = [0.1 + 0.2, 1 / 3, -1e-310, 2 ** 53 + 2];
  const buffer = new ResultsBuffer();
  const batch = {id: 'b-x', size: 4};
  for (const [i, prediction] of values.entries()) buffer.prediction(i, prediction, batch);
  buffer.error(7, 'backend_rejected', 'row refused', batch);
  buffer.withdrawn(8);
  const decoded = decode(encode({...(buffer.take() as ResultsMessage), thread: 3}));
  t.true(decoded.ok && decoded.frame.kind === 'results');
  if (!decoded.ok || decoded.frame.kind !== 'results') return;
  t.is(decoded.frame.thread, 3);
  t.deepEqual(readResults(decoded.frame), [
    ...values.map((prediction, i) => ({partId: i, outcome: 'prediction', prediction, batch})),
    {partId: 7, outcome: 'error', code: 'backend_rejected', message: 'row refused', batch},
    {partId: 8, outcome: 'withdrawn'},
  ]);
  t.is(decoded.frame.batches.length, 1, 'a call shared by its rows travels once');
});

test('a frame whose columns do not add up is refused whole: an actor host never reads a vector out of bounds', (t) => {
  const good = dispatch([[1, 2], [3]]);
  const lying = {...good, parts: Float64Array.from(good.parts)};
  lying.parts[PartField.length] = 5; // the first part claims more floats than the frame holds
  t.like(decode(encode(lying)), {ok: false, problem: 'bad_vectors'});
  const badKey = {...good, parts: Float64Array.from(good.parts)};
  badKey.parts[PartField.keyIndex] = 3;
  t.like(decode(encode(badKey)), {ok: false, problem: 'bad_parts'});
  for (const client of [-1, 0.5, 2 ** 32, Number.NaN]) {
    const badClient = {...good, parts: Float64Array.from(good.parts)};
    badClient.parts[PartField.client] = client;
    t.like(decode(encode(badClient)), {ok: false, problem: 'bad_parts'}, `client number ${client}`);
  }
  const buffer = new ResultsBuffer();
  buffer.error(1, 'backend_error', 'x');
  const results = {...(buffer.take() as ResultsMessage), thread: 0};
  t.like(decode(encode({...results, errors: []})), {ok: false, problem: 'bad_results'}, 'an error index with no error');
  const cut = encode(good);
  t.like(decode(cut.subarray(0, cut.length - 8)), {ok: false, problem: 'bad_columns'});
});

test('a frame of another protocol version, or no frame at all, is refused, never misread', (t) => {
  const bytes = encode({kind: 'heartbeat', threads: 2});
  bytes[1] = 99;
  const refused = decode(bytes);
  t.false(refused.ok);
  if (!refused.ok) {
    t.is(refused.problem, 'other_version');
    t.is(refused.detail, `protocol version 99, expected ${wireVersion}`);
  }
  t.false(decode(new TextEncoder().encode('{"kind":"heartbeat"}')).ok);
  t.false(decode(new Uint8Array([0xab, wireVersion, 0, 0, 255, 255, 0, 0])).ok, 'a header longer than the frame');
});

test('a frame that is JSON but not of our shape is refused whole, before any handler reads it', (t) => {
  const frame = (fields: object) => {
    const json = new TextEncoder().encode(JSON.stringify({...envelope, ...fields}));
    const bytes = new Uint8Array(8 + Math.ceil(json.length / 8) * 8 + 32);
    bytes[0] = 0xab;
    bytes[1] = wireVersion;
    new DataView(bytes.buffer).setUint32(4, json.length, true);
    bytes.set(json, 8);
    return bytes;
  };
  // A heartbeat claiming a billion threads would have a gateway list a billion members.
  t.like(decode(frame({kind: 'heartbeat', threads: 1e9})), {ok: false, problem: 'bad_header', detail: 'threads'});
  // A key that is not a mailbox key would reach parseKey in an actor thread.
  t.like(decode(frame({kind: 'dispatch', keys: [42], columns: [0, 0]})), {ok: false, problem: 'bad_header'});
  t.like(decode(frame({kind: 'withdraw', withdrawals: 'all'})), {ok: false, problem: 'bad_header'});
  const report = {key: 7, size: 1, backendMs: 1, result: 'ok', waitsMs: [0], windowMs: 5};
  t.like(decode(frame({kind: 'results', thread: 0, columns: [0], errors: [], batches: [], reports: [report]})), {
    ok: false,
    problem: 'bad_header',
    detail: 'reports.0.key',
  });
  t.like(
    decode(frame({kind: 'results', thread: 256, columns: [0], errors: [], batches: [], reports: []})),
    {ok: false, detail: 'thread'},
    'a thread past ACTOR_POOL_SIZE’s bound',
  );
  t.like(decode(frame({kind: 'nonsense'})), {ok: false});
  // The envelope is part of every header: a sender that is not one subject token, no sequence number.
  t.like(decode(frame({kind: 'heartbeat', threads: 2, sender: 'gw.1'})), {ok: false, detail: 'sender'});
  t.like(decode(frame({kind: 'heartbeat', threads: 2, seq: 0})), {ok: false, detail: 'seq'});
  t.true(decode(frame({kind: 'heartbeat', threads: 2})).ok, 'a well-formed one still reads');
});

test('a dispatch over the payload limit is split into whole parts, each with its own vectors', (t) => {
  const vectors = Array.from({length: 10}, (_, i) => Array.from({length: 20_000}, (_, j) => i * 1e5 + j));
  const message = dispatch(vectors);
  const pieces = splitDispatch(message, 1024 * 1024);
  t.true(pieces.length > 1);
  for (const piece of pieces) t.true(encode(piece).length <= 1024 * 1024);
  t.deepEqual(pieces.flatMap(vectorsOf), vectors);
  t.deepEqual(pieces.flatMap(partIds), partIds(message));
  t.deepEqual(pieces.flatMap(clientsOf), clientsOf(message));
  for (const piece of pieces) t.true(decode(encode(piece)).ok);
});

test('attack: a turn of 600 long distinct keys with long vectors: every piece fits max_payload and carries only its own keys', (t) => {
  // a9-bigturn: 16 requests x 32 agents, 125-character names; each piece used to carry all the turn's keys.
  const buffer = new DispatchBuffer();
  const sent: {key: string; partId: number; vector: number[]}[] = [];
  for (let i = 0; i < 600; i++) {
    const key = `T${'x'.repeat(118)}${String(i).padStart(6, '0')}\nM${'y'.repeat(118)}${String(i).padStart(6, '0')}`;
    const vector = Array.from({length: 4096}, (_, j) => i + j / 4096);
    buffer.add(key, i + 1, 1.5e12, vector, 7);
    sent.push({key, partId: i + 1, vector});
  }
  const message = buffer.dispatch() as DispatchMessage;
  const maxBytes = 1024 * 1024;
  const pieces = splitDispatch(message, maxBytes);
  t.true(pieces.length > 1);
  const got: {key: string; partId: number; vector: number[]}[] = [];
  for (const piece of pieces) {
    const bytes = encode(piece);
    t.true(bytes.length + 32 <= maxBytes, `${bytes.length} bytes`);
    const decoded = decode(bytes);
    t.true(decoded.ok);
    if (!decoded.ok || decoded.frame.kind !== 'dispatch') return;
    const used = new Set<number>();
    forEachPart(decoded.frame, (partId, keyIndex, _deadline, vector) => {
      used.add(keyIndex);
      got.push({
        key: decoded.frame.kind === 'dispatch' ? decoded.frame.keys[keyIndex] : '',
        partId,
        vector: Array.from(vector),
      });
    });
    t.is(used.size, piece.keys.length, 'no key of another piece');
  }
  t.deepEqual(got, sent);
});

test('a withdrawal of many long keys and many part ids is split under max_payload, nothing lost', (t) => {
  const withdrawals = Array.from({length: 300}, (_, i) => ({
    key: `T${'x'.repeat(120)}${i}\nM${'y'.repeat(120)}`,
    partIds: Array.from({length: 40}, (_, j) => 2 ** 52 + i * 100 + j),
  }));
  const maxBytes = 64 * 1024;
  const pieces = splitWithdrawal({kind: 'withdraw', withdrawals}, maxBytes);
  t.true(pieces.length > 1);
  for (const piece of pieces) t.true(encode(piece).length <= maxBytes);
  const flat = (ws: readonly {key: string; partIds: readonly number[]}[]) =>
    ws.flatMap(({key, partIds}) => partIds.map((id) => `${key}/${id}`));
  t.deepEqual(
    pieces.flatMap((p) => flat(p.withdrawals)),
    flat(withdrawals),
  );
  const small = {kind: 'withdraw' as const, withdrawals: withdrawals.slice(0, 2)};
  t.is(splitWithdrawal(small, maxBytes)[0], small);
});

test('an actor host’s results with many long-keyed batch reports are split under max_payload: every result, error, batch and report arrives once', (t) => {
  // 256 keys of 250 characters in one turn: their reports alone overflowed a 64 KB frame and every answer was lost.
  const buffer = new ResultsBuffer();
  const sent: string[] = [];
  for (let i = 0; i < 256; i++) {
    const key = `T${'x'.repeat(124)}${i}\nM${'y'.repeat(124)}`;
    const batch = {id: `b-${i}`, size: 2};
    buffer.prediction(i * 2, i + 0.5, batch);
    buffer.error(i * 2 + 1, 'backend_error', `call ${i % 3} failed`, batch);
    buffer.withdrawn(10_000 + i);
    buffer.report({key, size: 2, backendMs: 3, result: 'partial', waitsMs: [1, 2], windowMs: 5});
    sent.push(
      `${i * 2} ${i + 0.5} b-${i}`,
      `${i * 2 + 1} backend_error call ${i % 3} failed b-${i}`,
      `${10_000 + i} withdrawn`,
    );
  }
  const message = buffer.take() as ResultsMessage;
  const maxBytes = 64 * 1024;
  const pieces = splitResults(message, maxBytes);
  t.true(pieces.length > 2);
  const got: string[] = [];
  let reports = 0;
  for (const piece of pieces) {
    const bytes = encode({...piece, thread: 0});
    t.true(bytes.length + 32 <= maxBytes, `${bytes.length} bytes`);
    const decoded = decode(bytes);
    t.true(decoded.ok);
    if (!decoded.ok || decoded.frame.kind !== 'results') return;
    reports += decoded.frame.reports.length;
    for (const r of readResults(decoded.frame))
      got.push(
        'prediction' in r
          ? `${r.partId} ${r.prediction} ${r.batch?.id}`
          : 'code' in r
            ? `${r.partId} ${r.code} ${r.message} ${r.batch?.id}`
            : `${r.partId} withdrawn`,
      );
  }
  t.deepEqual(got, sent);
  t.is(reports, 256);
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
  t.true(
    moved.every((k) => rendezvous(k, joined) === 'h3/0'),
    'keys move only to the joiner',
  );
  t.true(moved.length > 300 && moved.length < 500, `${moved.length} of 2000 moved`);
  t.is(rendezvous('k', []), undefined);
});
