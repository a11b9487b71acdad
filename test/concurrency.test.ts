import test from 'ava';
import {startService} from './helpers/service.ts';
import {checkedBurst} from './helpers/checked-burst.ts';

const load = {
  clients: 500,
  maxAgents: 8,
  models: ['resnet-50', 'gpt-mini', 'bert-base'],
  agentTypes: ['scout', 'pilot'],
  lengths: [3, 16],
};

for (const pool of [1, 4]) {
  test(`500 clients at once get exactly their own exact predictions, batched across clients (ACTOR_POOL_SIZE=${pool})`, async (t) => {
    const running = await startService({ACTOR_POOL_SIZE: String(pool), MAX_BATCH_SIZE: '32', MAX_WAIT_MS: '200'});
    t.teardown(() => running.close());
    const figures = await checkedBurst(t, running.url, load, 32);
    t.log(`pool ${pool}: ${JSON.stringify(figures)}`);
    t.true(figures.meanBatchSize > 2, 'batches are filled, not one agent per call');
    // Nothing is left behind once every client has its answer.
    t.is(running.service.coordinator.stats.openRequests, 0);
    t.is(running.service.coordinator.stats.liveParts, 0);
  });
}
