// The parts an actor host holds for its gateways (src/cluster/held-parts.ts): bounded per gateway name.

import test from 'ava';
import {HeldParts} from '../src/cluster/held-parts.ts';

test('attack: one gateway (in any number of its starts) holds at most its bound; another gateway is not affected; room comes back as parts are answered', (t) => {
  const held = new HeldParts(3);
  const add = (gateway: string, boot: string, partId: number) =>
    held.add({gateway, to: `agent-batcher.gateway.${gateway}.${boot}.h1`, partId, thread: 0, key: 't\nm', floats: 3});
  const rogue = [add('evil', 'b1', 1), add('evil', 'b1', 2), add('evil', 'b2', 1), add('evil', 'b3', 1)];
  t.is(rogue.filter((l) => l === undefined).length, 1, 'the fourth part of one gateway name is not taken');
  t.is(held.heldFor('evil'), 3);
  const normal = [add('gw1', 'g', 1), add('gw1', 'g', 2), add('gw1', 'g', 3)];
  t.true(
    normal.every((l) => l !== undefined),
    'another gateway is not affected',
  );
  t.is(held.size, 6);
  t.like(held.release(rogue[0]!), {gateway: 'evil', partId: 1});
  t.not(add('evil', 'b4', 9), undefined, 'room again after one was answered');
  t.not(held.localOf('agent-batcher.gateway.evil.b4.h1', 9), undefined);
  for (const l of normal) held.release(l!);
  t.is(held.heldFor('gw1'), 0);
  t.is(held.releaseThread(0).length, 3);
  t.is(held.size, 0);
  t.is(held.heldFor('evil'), 0);
});

test('attack: one gateway holds at most maxFloats floats of vectors (a few huge parts are refused like many small ones); release gives the room back', (t) => {
  // a4-hostmem: 2,000 parts of 120,000 floats each took a host to 2.1 GB; the part count alone did not bound it.
  const held = new HeldParts(1000, 10_000);
  const add = (gateway: string, partId: number, floats: number) =>
    held.add({gateway, to: `agent-batcher.gateway.${gateway}.b.h1`, partId, thread: 0, key: 't\nm', floats});
  const big = [add('evil', 1, 4096), add('evil', 2, 4096), add('evil', 3, 4096)];
  t.is(big[2], undefined, '12,288 floats > 10,000');
  t.is(held.floatsFor('evil'), 8192);
  t.not(add('gw1', 1, 9000), undefined, 'another gateway is not affected');
  t.not(add('evil', 4, 1808), undefined, 'exactly up to the bound');
  t.is(add('evil', 5, 1), undefined);
  held.release(big[0]!);
  t.is(held.floatsFor('evil'), 10_000 - 4096);
  t.not(add('evil', 6, 4096), undefined);
  held.releaseThread(0);
  t.is(held.floatsFor('evil'), 0);
  t.is(held.floatsFor('gw1'), 0);
});

test('attack: a key holder speaking as many gateway names holds at most maxFloatsTotal floats in all; what is answered frees it', (t) => {
  const held = new HeldParts(1000, 10_000, 25_000);
  const add = (gateway: string, partId: number, floats: number) =>
    held.add({gateway, to: `agent-batcher.gateway.${gateway}.b.h1`, partId, thread: 0, key: 't\nm', floats});
  const taken = Array.from({length: 10}, (_, i) => add(`fake-${i}`, 1, 4096));
  t.is(taken.filter((l) => l !== undefined).length, 6, '6 x 4,096 = 24,576 <= 25,000');
  t.is(held.floats, 6 * 4096);
  held.release(taken[0]!);
  t.is(held.floats, 5 * 4096);
  t.not(add('gw1', 1, 4096), undefined, 'room again once one is answered');
});
