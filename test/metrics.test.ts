import test from 'ava';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {parsePrometheus, total} from './helpers/prom-text.ts';
import {post, startService} from './helpers/service.ts';

test('after a mixed load, /metrics parses as Prometheus text and agrees exactly with what the clients saw', async (t) => {
  const backend = await startFakeBackend();
  t.teardown(() => backend.close());
  const running = await startService({
    BACKEND_URL: backend.url,
    BACKEND_RETRIES: '0',
    MAX_WAIT_MS: '10',
    MAX_PENDING_PER_MAILBOX: '40',
    MAX_AGENTS_PER_REQUEST: '8',
  });
  t.teardown(() => running.close());

  const models = ['good', 'good2', 'fail500', 'nonjson', 'poison'];
  const outcomes = new Map<string, number>();
  const batches = new Map<string, number>();
  const statusCount = new Map<number, number>();
  const batchOutcomes = new Map<string, Set<string>>();
  const bump = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
  const replies = await Promise.all(
    Array.from({length: 120}, (_, c) =>
      post(`${running.url}/predict`, {
        agents: Object.fromEntries(
          Array.from({length: 1 + (c % 4)}, (_, i) => [
            `a${i}`,
            {
              vector: c % 17 === 0 && i === 0 ? [666, 1] : [c, i],
              model: models[(c + i) % models.length],
              agent_type: 't',
            },
          ]),
        ),
      }),
    ),
  );
  // One request whose four agents share the poison key and arrive together, one of them poisoned: its batch
  // is `partial` whatever the timing of the load above did to the other poison rows.
  replies.push(
    await post(`${running.url}/predict`, {
      agents: Object.fromEntries(
        [
          [666, 0],
          [1, 1],
          [2, 2],
          [3, 3],
        ].map((vector, i) => [`p${i}`, {vector, model: 'poison', agent_type: 't'}]),
      ),
    }),
  );
  // Some bad requests too: they count as requests, never as agents.
  replies.push(await post(`${running.url}/predict`, {agents: {}}));
  replies.push(await post(`${running.url}/predict`, 'nope'));
  for (const reply of replies) {
    bump(statusCount, reply.status);
    if (!reply.body.results) continue;
    for (const result of Object.values<any>(reply.body.results)) {
      bump(outcomes, result.prediction !== undefined ? 'prediction' : result.error.code);
      if (!result.batch) continue;
      batches.set(result.batch.id, result.batch.size);
      const seen = batchOutcomes.get(result.batch.id) ?? new Set<string>();
      batchOutcomes.set(result.batch.id, seen.add(result.prediction !== undefined ? 'ok' : 'failed'));
    }
  }

  const response = await fetch(`${running.url}/metrics`);
  t.regex(response.headers.get('content-type')!, /^text\/plain/);
  const samples = parsePrometheus(await response.text());

  for (const [outcome, n] of outcomes)
    t.is(total(samples, 'agent_batcher_agents_total', {outcome}), n, `agents with outcome ${outcome}`);
  t.is(
    total(samples, 'agent_batcher_agents_total'),
    [...outcomes.values()].reduce((a, b) => a + b, 0),
  );
  t.is(
    total(samples, 'agent_batcher_backend_calls_total'),
    batches.size,
    'one backend call per batch id the clients saw',
  );
  t.is(total(samples, 'agent_batcher_batch_size_count'), batches.size);
  const rows = [...batches.values()].reduce((a, b) => a + b, 0);
  t.is(total(samples, 'agent_batcher_batch_size_sum'), rows, 'sum of batch sizes = rows sent');
  t.is(total(samples, 'agent_batcher_queue_wait_seconds_count'), rows, 'one queue wait per row');
  t.is(total(samples, 'agent_batcher_backend_calls_total', {result: 'ok'}) > 0, true);
  t.true(total(samples, 'agent_batcher_backend_calls_total', {model: 'fail500', result: 'backend_error'}) > 0);
  const partial = [...batchOutcomes.values()].filter((seen) => seen.size === 2).length;
  t.true(partial > 0, 'the poisoned request made at least one partial batch');
  t.is(total(samples, 'agent_batcher_backend_calls_total', {result: 'partial'}), partial, 'partial batches');
  for (const [status, n] of statusCount) {
    t.is(
      total(samples, 'agent_batcher_http_requests_total', {route: '/predict', status: String(status)}),
      n,
      `requests with status ${status}`,
    );
  }
  t.is(total(samples, 'agent_batcher_worker_restarts_total'), 0);
  t.is(total(samples, 'agent_batcher_open_requests'), 0);
  t.true(
    samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'),
    'event-loop lag of the main thread',
  );
  t.true(samples.some((s) => s.name === 'agent_batcher_mailbox_depth' || s.name === 'agent_batcher_mailboxes'));
  t.log(JSON.stringify({outcomes: Object.fromEntries(outcomes), batches: batches.size, rows}));
});

test('hostile paths do not create metric series', async (t) => {
  const running = await startService();
  t.teardown(() => running.close());
  for (let i = 0; i < 20; i++) await fetch(`${running.url}/random-${i}`);
  const samples = parsePrometheus(await (await fetch(`${running.url}/metrics`)).text());
  const routes = new Set(
    samples.filter((s) => s.name === 'agent_batcher_http_requests_total').map((s) => s.labels.route),
  );
  t.true(
    [...routes].every((r) => r === 'other' || r === '/metrics'),
    [...routes].join(', '),
  );
  t.is(total(samples, 'agent_batcher_http_requests_total', {route: 'other'}), 20);
});

test('1,024 keys cannot blow up /metrics: per-key series for METRICS_MAX_KEYS keys, the rest summed under _other, counts exact', async (t) => {
  const running = await startService({
    BACKEND_LATENCY_MIN_MS: '5',
    BACKEND_LATENCY_MAX_MS: '10',
    MAX_WAIT_MS: '2',
    METRICS_MAX_KEYS: '8',
  });
  t.teardown(() => running.close());
  for (let round = 0; round < 32; round++) {
    const agents = Object.fromEntries(
      Array.from({length: 32}, (_, i) => [`a${i}`, {vector: [1], model: `m${round}-${i}`, agent_type: 't'}]),
    );
    const reply = await post(`${running.url}/predict`, {agents});
    t.is(reply.status, 200);
  }
  const text = await (await fetch(`${running.url}/metrics`)).text();
  t.true(text.length < 256 * 1024, `scrape is ${text.length} bytes`);
  const samples = parsePrometheus(text);
  const calls = samples.filter((s) => s.name === 'agent_batcher_backend_calls_total');
  const models = new Set(calls.map((s) => s.labels.model));
  t.is(models.size, 9, '8 keys of their own and _other');
  t.true(models.has('_other'));
  t.is(
    total(samples, 'agent_batcher_backend_calls_total'),
    1024,
    'every one of the 1,024 backend calls is counted once',
  );
  t.is(total(samples, 'agent_batcher_batch_size_count'), 1024);
});

test('with MAX_WAIT_MS=auto each key has a window that follows its backend latency, shown per key', async (t) => {
  const running = await startService({
    MAX_WAIT_MS: 'auto',
    MAX_WAIT_FRACTION: '0.2',
    BACKEND_LATENCY_MIN_MS: '300',
    BACKEND_LATENCY_MAX_MS: '300',
  });
  t.teardown(() => running.close());
  const first = await post(`${running.url}/predict`, {agents: {a: {vector: [1], model: 'w', agent_type: 't'}}});
  t.is(first.status, 200);
  const samples = parsePrometheus(await (await fetch(`${running.url}/metrics`)).text());
  const window = samples.find((s) => s.name === 'agent_batcher_batch_window_seconds' && s.labels.model === 'w');
  // 20% of ~300 ms after the first measured call (the timer may add a few ms).
  t.true(window !== undefined && window.value >= 0.06 && window.value < 0.075, `window ${window?.value}`);
});
