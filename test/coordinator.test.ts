// The coordinator alone, through a fake transport: no threads, no HTTP. Each test plays the actor
// threads' part by hand, with the results messages a thread would send.

import test from 'ava';
import {Coordinator} from '../src/coordinator/coordinator.ts';
import type {AgentInput, CoordinatorOptions, Ticket} from '../src/coordinator/api.ts';
import {fewestKeys} from '../src/coordinator/placement.ts';
import type {Placement, Transport} from '../src/coordinator/transport.ts';
import {createLogger} from '../src/log.ts';
import type {BatchInfo, ResultsMessage} from '../src/protocol/messages.ts';
import {ResultsBuffer} from '../src/protocol/outbox.ts';

interface Sent {
  thread: number;
  key: string;
  partId: number;
  deadline: number;
  vector: ArrayLike<number>;
}

class FakeTransport implements Transport {
  readonly placement: Placement;
  readonly sent: Sent[] = [];
  readonly withdrawn: {thread: number; key: string; partId: number}[] = [];
  constructor(threads: number) {
    this.placement = fewestKeys(threads);
  }
  send(thread: number, key: string, partId: number, deadline: number, vector: ArrayLike<number>): void {
    this.sent.push({thread, key, partId, deadline, vector});
  }
  withdraw(thread: number, key: string, partId: number): void {
    this.withdrawn.push({thread, key, partId});
  }
}

const options: CoordinatorOptions = {
  batching: {maxBatchSize: 4, maxWaitMs: 5, waitFraction: 0.02, maxConcurrentBatches: 0},
  maxMailboxes: 8,
  maxPendingPerMailbox: 3,
  maxPendingTotal: 6,
  expectedLatencyMs: 1500,
};

function setup(threads = 2, extra: Partial<CoordinatorOptions> = {}) {
  const transport = new FakeTransport(threads);
  const coordinator = new Coordinator(transport, {...options, ...extra}, createLogger('silent'));
  return {transport, coordinator};
}

const agent = (id: string, model = 'm', vector = [1]): AgentInput => ({id, vector, model, agentType: 't'});
const batch: BatchInfo = {id: 'b-1', size: 1};
/** What a thread would send: a prediction for each part, through the threads' own results buffer. */
function predictions(...items: [Sent, number][]): ResultsMessage {
  const buffer = new ResultsBuffer();
  for (const [part, value] of items) buffer.prediction(part.partId, value, batch);
  return buffer.take() as ResultsMessage;
}

function admitted(admission: ReturnType<Coordinator['submit']>): Ticket {
  if (!admission.admitted) throw new Error(`refused: ${admission.refusal.reason}`);
  return admission.ticket;
}

test('a request is split into tagged parts and reassembled in agent order, whatever order results come in', async (t) => {
  const {transport, coordinator} = setup();
  t.teardown(() => coordinator.close());
  const ticket = admitted(
    coordinator.submit({
      requestId: 'r1',
      client: 'c1',
      agents: [agent('a', 'm1', [1, 2]), agent('b', 'm2', [3])],
      deadline: Date.now() + 5000,
    }),
  );
  t.is(transport.sent.length, 2);
  t.deepEqual(
    transport.sent.map((p) => [p.key, Array.from(p.vector)]),
    [
      ['t\nm1', [1, 2]],
      ['t\nm2', [3]],
    ],
  );
  t.not(transport.sent[0].thread, transport.sent[1].thread, 'two new keys go to the two least-loaded threads');
  const [a, b] = transport.sent;
  coordinator.onResults(predictions([b, 20]));
  coordinator.onResults(predictions([a, 10]));
  const outcomes = await ticket.outcomes;
  t.deepEqual(
    outcomes.map((o) => ('prediction' in o ? o.prediction : o.error.code)),
    [10, 20],
  );
  t.is(coordinator.stats.liveParts, 0);
  t.is(coordinator.stats.openRequests, 0);
});

test('a result counts only from the thread its part was sent to; a batch report counts only for a key it admitted', async (t) => {
  const batches: string[] = [];
  const observer = {
    outcome() {},
    refused() {},
    withdrawn() {},
    keyRetired() {},
    batch: (report: {key: string}) => batches.push(report.key),
  };
  const {transport, coordinator} = setup(2, {observer});
  t.teardown(() => coordinator.close());
  const ticket = admitted(
    coordinator.submit({
      requestId: 'r1',
      client: 'c1',
      agents: [agent('a', 'm1'), agent('b', 'm2')],
      deadline: Date.now() + 5000,
    }),
  );
  const [a, b] = transport.sent;
  // Thread b answers for a's part (a peer answering for what it was never sent): refused.
  t.is(coordinator.onResults(predictions([a, 666]), b.thread), 1);
  t.is(coordinator.stats.liveParts, 2, 'the part still waits for its own thread');
  const forged = new ResultsBuffer();
  for (let i = 0; i < 40; i++)
    forged.report({key: `t\nforged-${i}`, size: 1, backendMs: 1, result: 'ok', waitsMs: [0], windowMs: 5});
  forged.report({key: a.key, size: 1, backendMs: 1, result: 'ok', waitsMs: [0], windowMs: 5});
  coordinator.onResults(forged.take() as ResultsMessage, a.thread);
  t.deepEqual(batches, [a.key], 'no metric series for keys this coordinator never admitted');
  t.is(coordinator.onResults(predictions([a, 10]), a.thread), 0);
  t.is(coordinator.onResults(predictions([b, 20]), b.thread), 0);
  const outcomes = await ticket.outcomes;
  t.deepEqual(
    outcomes.map((o) => ('prediction' in o ? o.prediction : o.error.code)),
    [10, 20],
  );
});

test('admission refuses a request whole, with a reason value and a Retry-After from the key latency; nothing is sent', (t) => {
  const {transport, coordinator} = setup();
  t.teardown(() => coordinator.close());
  admitted(
    coordinator.submit({requestId: 'r1', client: 'c1', agents: [agent('a'), agent('b')], deadline: Date.now() + 5000}),
  );
  const full = coordinator.submit({
    requestId: 'r2',
    client: 'c1',
    agents: [agent('c'), agent('d')],
    deadline: Date.now() + 5000,
  });
  t.false(full.admitted);
  if (!full.admitted) {
    t.is(full.refusal.reason, 'mailbox_full');
    t.is(full.refusal.retryAfterSeconds, 2, 'one round of the key at its expected 1.5 s');
  }
  const other = Array.from({length: 5}, (_, i) => agent(`x${i}`, `k${i}`));
  const total = coordinator.submit({requestId: 'r3', client: 'c1', agents: other, deadline: Date.now() + 5000});
  t.true(!total.admitted && total.refusal.reason === 'pending_full');
  t.is(transport.sent.length, 2, 'only the admitted request was sent');
  t.is(coordinator.stats.refused, 2);
});

test('too many mailboxes: idle keys are retired to make room, busy ones are not', async (t) => {
  const {transport, coordinator} = setup(2, {maxMailboxes: 2});
  t.teardown(() => coordinator.close());
  const first = admitted(
    coordinator.submit({
      requestId: 'r1',
      client: 'c1',
      agents: [agent('a', 'k1'), agent('b', 'k2')],
      deadline: Date.now() + 5000,
    }),
  );
  const refused = coordinator.submit({
    requestId: 'r2',
    client: 'c1',
    agents: [agent('c', 'k3')],
    deadline: Date.now() + 5000,
  });
  t.true(!refused.admitted && refused.refusal.reason === 'too_many_mailboxes');
  coordinator.onResults(predictions(...transport.sent.map((p): [Sent, number] => [p, 1])));
  await first.outcomes;
  admitted(
    coordinator.submit({requestId: 'r3', client: 'c1', agents: [agent('c', 'k3')], deadline: Date.now() + 5000}),
  );
  t.is(coordinator.stats.keys, 2, 'one idle key gave way');
});

test('at its deadline a request is answered deadline_exceeded and its waiting parts are withdrawn; late results are dropped', async (t) => {
  const {transport, coordinator} = setup();
  t.teardown(() => coordinator.close());
  const ticket = admitted(
    coordinator.submit({
      requestId: 'r1',
      client: 'c1',
      agents: [agent('a'), agent('b', 'm2')],
      deadline: Date.now() + 30,
    }),
  );
  const [a, b] = transport.sent;
  coordinator.onResults(predictions([a, 1]));
  const outcomes = await ticket.outcomes;
  t.is('prediction' in outcomes[0] && outcomes[0].prediction, 1);
  t.true('error' in outcomes[1] && outcomes[1].error.code === 'deadline_exceeded');
  t.deepEqual(transport.withdrawn, [{thread: b.thread, key: b.key, partId: b.partId}]);
  t.is(coordinator.stats.liveParts, 1, 'the withdrawn part is held until its thread answers for it');
  coordinator.onResults(predictions([b, 2]));
  t.is(coordinator.stats.liveParts, 0, 'a late result ends the entry and changes nothing');
});

test('a failed thread fails only the parts it held, with worker_failed', async (t) => {
  const {transport, coordinator} = setup();
  t.teardown(() => coordinator.close());
  const ticket = admitted(
    coordinator.submit({
      requestId: 'r1',
      client: 'c1',
      agents: [agent('a', 'm1'), agent('b', 'm2')],
      deadline: Date.now() + 5000,
    }),
  );
  const [a, b] = transport.sent;
  coordinator.onThreadFailed(a.thread);
  coordinator.onResults(predictions([b, 7]));
  const outcomes = await ticket.outcomes;
  t.true('error' in outcomes[0] && outcomes[0].error.code === 'worker_failed');
  t.true('prediction' in outcomes[1] && outcomes[1].prediction === 7);
});

test('cancel (client gone) answers at once and withdraws; idle() resolves when the last request ends, without polling', async (t) => {
  const {transport, coordinator} = setup();
  t.teardown(() => coordinator.close());
  const ticket = admitted(
    coordinator.submit({requestId: 'r1', client: 'c1', agents: [agent('a')], deadline: Date.now() + 5000}),
  );
  let idle = false;
  const idled = coordinator.idle().then(() => (idle = true));
  await Promise.resolve();
  t.false(idle);
  ticket.cancel();
  const [outcome] = await ticket.outcomes;
  t.true('error' in outcome && outcome.error.code === 'shutting_down');
  t.is(transport.withdrawn.length, 1);
  await idled;
  t.true(idle);
  const withdrawn = new ResultsBuffer();
  withdrawn.withdrawn(transport.sent[0].partId);
  coordinator.onResults(withdrawn.take() as ResultsMessage);
  t.is(coordinator.stats.withdrawn, 1);
  t.is(coordinator.stats.liveParts, 0);
});

test('a key stays on its thread while alive; measured latency drives Retry-After', async (t) => {
  const {transport, coordinator} = setup(3);
  t.teardown(() => coordinator.close());
  for (let i = 0; i < 3; i++)
    admitted(
      coordinator.submit({requestId: `r${i}`, client: 'c1', agents: [agent('a', 'hot')], deadline: Date.now() + 5000}),
    );
  t.is(new Set(transport.sent.map((p) => p.thread)).size, 1);
  t.is(coordinator.threadOf('t', 'hot'), transport.sent[0].thread);
  const report = new ResultsBuffer();
  report.report({key: 't\nhot', size: 1, backendMs: 9500, result: 'ok', waitsMs: [0], windowMs: 5});
  coordinator.onResults(report.take() as ResultsMessage);
  const refused = coordinator.submit({
    requestId: 'r9',
    client: 'c1',
    agents: [agent('z', 'hot')],
    deadline: Date.now() + 5000,
  });
  // 1500 + 0.2 × (9500 − 1500) = 3100 ms -> 4 s.
  t.true(!refused.admitted && refused.refusal.retryAfterSeconds === 4);
});

/** Submits `n` agents of `model` for `client`. */
function asker(coordinator: Coordinator) {
  let seq = 0;
  return (client: string, n: number, model = 'hot') =>
    coordinator.submit({
      requestId: `r${++seq}`,
      client,
      agents: Array.from({length: n}, (_, i) => agent(`${client}-${seq}-${i}`, model)),
      deadline: Date.now() + 5000,
    });
}

const reasonOf = (admission: ReturnType<Coordinator['submit']>) =>
  admission.admitted ? 'admitted' : admission.refusal.reason;

/** What a thread would send for the first `n` parts sent to it that are still unanswered. */
function answer(transport: FakeTransport, coordinator: Coordinator, n: number, answered: Set<number>) {
  const parts = transport.sent.filter((p) => !answered.has(p.partId)).slice(0, n);
  for (const p of parts) answered.add(p.partId);
  coordinator.onResults(predictions(...parts.map((p): [Sent, number] => [p, p.partId])));
}

test('a lone client gets every slot of a mailbox, of the total and of the mailboxes: no share binds while nobody else waits', (t) => {
  const {coordinator} = setup(2, {maxPendingPerMailbox: 10, maxPendingTotal: 14, maxMailboxes: 4});
  t.teardown(() => coordinator.close());
  const ask = asker(coordinator);
  for (let i = 0; i < 5; i++) t.is(reasonOf(ask('lone', 2)), 'admitted');
  t.is(reasonOf(ask('lone', 1)), 'mailbox_full', 'the mailbox is full: not a share');
  for (const model of ['k1', 'k2', 'k3']) t.is(reasonOf(ask('lone', 1, model)), 'admitted');
  t.is(reasonOf(ask('lone', 1, 'k4')), 'too_many_mailboxes');
  t.is(reasonOf(ask('lone', 1, 'k1')), 'admitted');
  t.is(reasonOf(ask('lone', 1, 'k2')), 'pending_full', 'all 14 taken by the one client');
  t.is(coordinator.stats.liveParts, 14);
});

test('a newcomer refused at a full mailbox leaves a claim: a flooder above its part gets only capacity nobody waits for, and the retry gets in', async (t) => {
  const {transport, coordinator} = setup(2, {maxPendingPerMailbox: 10, maxPendingTotal: 100, maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const ask = asker(coordinator);
  const answered = new Set<number>();
  for (let i = 0; i < 5; i++) t.is(reasonOf(ask('flooder', 2)), 'admitted', 'alone, the flooder fills the mailbox');
  const first = ask('newcomer', 2);
  t.is(reasonOf(first), 'mailbox_full');
  t.is(coordinator.stats.claims, 1);
  answer(transport, coordinator, 4, answered);
  // Two share the mailbox now (the flooder, the newcomer's claim): 5 each. The flooder holds 6.
  t.is(reasonOf(ask('flooder', 2)), 'admitted', '8 held + 2 claimed = 10: the flooder may use what nobody waits for');
  const over = ask('flooder', 1);
  t.is(reasonOf(over), 'client_share', 'but not what the newcomer claimed');
  t.true(!over.admitted && over.refusal.retryAfterSeconds >= 1);
  const retry = ask('newcomer', 2);
  t.is(reasonOf(retry), 'admitted');
  t.is(coordinator.stats.claims, 0, 'admitted, its claim ends');
  const newcomerParts = transport.sent.slice(-2);
  coordinator.onResults(predictions(...newcomerParts.map((p): [Sent, number] => [p, 100 + p.partId])));
  const outcomes = await (retry as {ticket: Ticket}).ticket.outcomes;
  t.deepEqual(
    outcomes.map((o) => ('prediction' in o ? o.prediction : o.error.code)),
    newcomerParts.map((p) => 100 + p.partId),
  );
});

test('N identities get N parts: three addresses fill a mailbox; each is held to its part while a fourth client waits, and that one gets in', (t) => {
  const {transport, coordinator} = setup(2, {maxPendingPerMailbox: 12, maxPendingTotal: 100, maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const ask = asker(coordinator);
  const answered = new Set<number>();
  for (const address of ['a1', 'a2', 'a3']) t.is(reasonOf(ask(address, 4)), 'admitted');
  t.is(reasonOf(ask('normal', 1)), 'mailbox_full');
  // a1's four finish: four sharing the mailbox (a2, a3, the claim, a1), 3 each.
  answer(transport, coordinator, 4, answered);
  t.is(
    reasonOf(ask('a1', 4)),
    'claims_queued',
    'more than its part, but a1 holds none of the mailbox now: never client_share, it waits its turn behind the claim',
  );
  t.is(reasonOf(ask('a1', 3)), 'admitted', 'its part');
  t.is(reasonOf(ask('a1', 1)), 'client_share');
  t.is(reasonOf(ask('a2', 1)), 'client_share', 'a2 already holds more than its part');
  t.is(reasonOf(ask('normal', 1)), 'admitted', 'the claimed slot waited for its client');
  t.is(coordinator.stats.liveParts, 12);
});

test('the total and the mailboxes are shared the same way: a flooder holding every mailbox leaves one to a client that claimed it', (t) => {
  const {transport, coordinator} = setup(2, {maxPendingPerMailbox: 10, maxPendingTotal: 10, maxMailboxes: 4});
  t.teardown(() => coordinator.close());
  const ask = asker(coordinator);
  const answered = new Set<number>();
  for (const model of ['k1', 'k2', 'k3', 'k4']) t.is(reasonOf(ask('flooder', 2, model)), 'admitted');
  t.is(reasonOf(ask('normal', 1, 'own')), 'too_many_mailboxes');
  answer(transport, coordinator, 2, answered);
  t.is(
    reasonOf(ask('flooder', 1, 'k5')),
    'client_share',
    'k1 went idle, but the normal client claimed a mailbox and the flooder holds 3 of 4',
  );
  t.is(reasonOf(ask('normal', 1, 'own')), 'admitted', 'an idle key gave way to its claim');
  // The total (10): 7 held. Nobody waits: the flooder, above its part (5), may take more.
  t.is(reasonOf(ask('flooder', 1, 'k2')), 'admitted');
  t.is(reasonOf(ask('other', 3, 'k2')), 'pending_full', 'its part (3 of 10 among three), but only 2 are free');
  t.is(reasonOf(ask('flooder', 1, 'k2')), 'client_share', 'the 2 free slots wait for the claim of 3');
  answer(transport, coordinator, 1, answered);
  t.is(reasonOf(ask('flooder', 1, 'k2')), 'client_share');
  t.is(reasonOf(ask('other', 3, 'k2')), 'admitted');
  t.is(coordinator.stats.liveParts, 10);
});

test('claims are served smallest first, then in order: a fresh address asking more waits behind smaller claims; equal claims never block each other', (t) => {
  const {transport, coordinator} = setup(2, {maxPendingPerMailbox: 20, maxPendingTotal: 100, maxMailboxes: 8});
  t.teardown(() => coordinator.close());
  const ask = asker(coordinator);
  const answered = new Set<number>();
  for (let i = 0; i < 5; i++) t.is(reasonOf(ask('flooder', 4)), 'admitted');
  t.is(reasonOf(ask('n1', 1)), 'mailbox_full');
  t.is(reasonOf(ask('n2', 1)), 'mailbox_full');
  t.is(reasonOf(ask('fresh', 4)), 'mailbox_full', 'within its part (5 of 20 among four), but the mailbox is full');
  answer(transport, coordinator, 4, answered);
  t.is(reasonOf(ask('fresh', 4)), 'claims_queued', '4 are free, but n1 and n2 asked for less, first');
  t.is(reasonOf(ask('n2', 1)), 'admitted');
  t.is(reasonOf(ask('n1', 1)), 'admitted');
  t.is(reasonOf(ask('fresh', 4)), 'mailbox_full', 'still its turn next: 2 free');
  t.is(reasonOf(ask('flooder', 1)), 'client_share', 'the 2 free slots wait for its claim');
  answer(transport, coordinator, 2, answered);
  t.is(reasonOf(ask('fresh', 4)), 'admitted');
  // Two claims of one agent each and one slot freed: the first in line gets it, at once.
  const {transport: t2, coordinator: c2} = setup(2, {maxPendingPerMailbox: 2, maxPendingTotal: 100, maxMailboxes: 8});
  t.teardown(() => c2.close());
  const ask2 = asker(c2);
  const answered2 = new Set<number>();
  t.is(reasonOf(ask2('holder', 2)), 'admitted');
  t.is(reasonOf(ask2('first', 1)), 'mailbox_full');
  t.is(reasonOf(ask2('second', 1)), 'mailbox_full');
  answer(t2, c2, 1, answered2);
  t.is(
    reasonOf(ask2('second', 1)),
    'claims_queued',
    'behind the first, at the same level: the slot is free, it is queued',
  );
  t.is(reasonOf(ask2('first', 1)), 'admitted');
  answer(t2, c2, 1, answered2);
  t.is(reasonOf(ask2('second', 1)), 'admitted');
});
