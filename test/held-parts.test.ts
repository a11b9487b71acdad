// The parts an actor host holds for its gateways (src/cluster/held-parts.ts): bounded per gateway name.

import test from 'ava';
import {HeldParts} from '../src/cluster/held-parts.ts';

test('attack: one gateway (in any number of its starts) holds at most its bound; another gateway is not affected; room comes back as parts are answered', (t) => {
  const held = new HeldParts(3);
  const add = (gateway: string, boot: string, partId: number) =>
    held.add({gateway, to: `agent-batcher.gateway.${gateway}.${boot}.h1`, partId, thread: 0, key: 't\nm'});
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
