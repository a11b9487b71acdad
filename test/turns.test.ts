// A mailbox serves its clients in turn (workers/batch-policy.ts): one client's backlog of
// batches does not hold back the rows of clients that come after it. Attack and normal clients
// share one key; the order of the batches shows it, never a timing.

import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';
import {metric, until} from './helpers/until.ts';

/** A batch id's sequence number in its thread ("b-<instance>-<seq>"): the order batches were cut. */
const seqOf = (batchId: string) => Number(batchId.split('-').at(-1));

test('attack: a client with 30 batches of backlog on a key; three clients asking after it are served in the next batch, not after the backlog, exact', async (t) => {
  const keys = ['flood-key-0001', 'normal-key-0001', 'normal-key-0002', 'normal-key-0003'];
  const running = await startService({
    API_KEYS: keys.join(','),
    ACTOR_POOL_SIZE: '1',
    MAX_BATCH_SIZE: '8',
    MAX_WAIT_MS: '5',
    MAX_CONCURRENT_BATCHES: '1',
    // 30 calls of 150 ms: the others' requests arrive long before the backlog drains, loaded or not.
    BACKEND_LATENCY_MIN_MS: '150',
    BACKEND_LATENCY_MAX_MS: '150',
  });
  t.teardown(() => running.close());
  const as = (key: string) => ({authorization: `Bearer ${key}`});
  const agent = (x: number) => ({vector: [x, 1], model: 'm', agent_type: 't'});
  const expected = (x: number) => predictRow(bias('m', 't'), [x, 1]);

  const flood = Array.from({length: 30}, (_, r) =>
    post(
      `${running.url}/predict`,
      {agents: Object.fromEntries(Array.from({length: 8}, (_, i) => [`f${i}`, agent(r * 8 + i)]))},
      as(keys[0]),
    ),
  );
  // Every flood row is admitted before the others ask: in flight now, or already sent in a batch
  // that came back (read first, so that a batch finishing between the two reads counts in neither).
  await until(async () => {
    const done = await metric(running.url, 'agent_batcher_batch_size_sum');
    return done + running.service.coordinator.stats.liveParts >= 240;
  });
  const normal = await Promise.all(
    [1, 2, 3].map((n) => post(`${running.url}/predict`, {agents: {a: agent(1000 + n)}}, as(keys[n]))),
  );
  const floodReplies = await Promise.all(flood);

  const floodBatches = new Set<number>();
  floodReplies.forEach((reply, r) => {
    t.is(reply.status, 200);
    for (let i = 0; i < 8; i++) {
      const result = reply.body.results[`f${i}`];
      t.is(result.prediction, expected(r * 8 + i));
      floodBatches.add(seqOf(result.batch.id));
    }
  });
  for (const [n, reply] of normal.entries()) {
    t.is(reply.status, 200);
    const {prediction, batch} = reply.body.results.a;
    t.is(prediction, expected(1001 + n));
    const after = [...floodBatches].filter((seq) => seq > seqOf(batch.id)).length;
    // In arrival order it would come after all 30; in turn, one call is in flight and the next batch takes it.
    t.true(after >= 20, `normal client ${n + 1}: batch ${batch.id}, ${after} flood batches after it`);
    t.is(batch.size, 8, 'its batch is filled with the flood’s rows: turns waste no room');
  }
});
