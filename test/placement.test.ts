import test from 'ava';
import {post, startService} from './helpers/service.ts';

/** Batch ids are b-<thread instance>-<sequence>: the thread that ran a batch is visible from outside. */
const instanceOf = (batchId: string) => batchId.split('-')[1];

test('a key always lands on the same thread, and more keys than threads works', async (t) => {
  const running = await startService({ACTOR_POOL_SIZE: '3', MAX_WAIT_MS: '5'});
  t.teardown(() => running.close());
  const keys = Array.from({length: 8}, (_, i) => ({model: `model-${i}`, agent_type: i % 2 ? 'scout' : 'pilot'}));
  const threads = new Map<string, Set<string>>();
  for (let round = 0; round < 5; round++) {
    const replies = await Promise.all(
      Array.from({length: 10}, (_, c) =>
        post(`${running.url}/predict`, {
          agents: Object.fromEntries(keys.map((k, i) => [`r${round}-c${c}-k${i}`, {...k, vector: [i, c]}])),
        }),
      ),
    );
    for (const reply of replies) {
      t.is(reply.status, 200);
      for (const [id, result] of Object.entries<any>(reply.body.results)) {
        const key = id.split('-k')[1];
        const seen = threads.get(key) ?? new Set();
        seen.add(instanceOf(result.batch.id));
        threads.set(key, seen);
      }
    }
  }
  t.is(threads.size, 8);
  for (const [key, seen] of threads) t.is(seen.size, 1, `key ${key} ran on one thread`);
  const used = new Set([...threads.values()].map((s) => [...s][0]));
  t.is(used.size, 3, 'the 8 keys spread over all 3 threads');
  for (const k of keys) t.not(running.service.coordinator.threadOf(k.agent_type, k.model), undefined);
});
