// Retry-After of an admission refusal (src/coordinator/keys.ts, drainSeconds): when what the
// client waits for should have freed, from the keys' measured latency. A small request refused by a
// long backlog waits for the next round of batches, not for the whole backlog to drain (a flood of
// 2,000 agents on one key made honest clients wait 25 s before, while their claim held the room
// freed for them within one backend call).

import test from 'ava';
import type {BatchingOptions} from '../src/config.ts';
import {drainSeconds} from '../src/coordinator/keys.ts';
import type {KeyState} from '../src/coordinator/keys.ts';

const batching = {maxBatchSize: 32, maxConcurrentBatches: 4, maxWaitMs: 20, waitFraction: 0.1} as BatchingOptions;
const key = (name: string, live: number, latencyMs: number): KeyState => ({
  key: name,
  thread: 0,
  live,
  idleSince: 0,
  latencyMs,
});

test('a small request behind a long backlog waits one round of batches, not the drain', (t) => {
  const flooded = key('m|t', 2000, 1250);
  // 2,000 agents in rounds of 32 × 4: 16 rounds of 1.25 s = 20 s to drain all.
  t.is(drainSeconds([flooded], batching), 20);
  t.is(drainSeconds([flooded], batching, 'room', 4), 2, 'room for 4 agents frees with the next round');
  t.is(drainSeconds([flooded], batching, 'room', 300), 4, '300 agents: three rounds');
});

test('room on the total comes from the soonest key; a mailbox from the first key to drain', (t) => {
  const slow = key('a|t', 10, 6000);
  const fast = key('b|t', 500, 400);
  t.is(drainSeconds([slow, fast], batching, 'room', 4), 1);
  t.is(drainSeconds([slow, fast], batching, 'first'), 2, 'b drains in 4 rounds of 0.4 s, before a’s 6 s');
  t.is(drainSeconds([slow, fast], batching, 'all'), 6);
});

test('unlimited concurrent batches: one round; idle keys and no keys: at least 1 s', (t) => {
  const unlimited = {...batching, maxConcurrentBatches: 0};
  t.is(drainSeconds([key('m|t', 5000, 3000)], unlimited), 3);
  t.is(drainSeconds([key('m|t', 5000, 3000)], unlimited, 'room', 4), 3);
  t.is(drainSeconds([key('m|t', 0, 3000)], batching, 'room', 4), 1);
  t.is(drainSeconds([], batching, 'first'), 1);
});
