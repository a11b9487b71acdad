// Streamed answers (Accept: application/x-ndjson, DESIGN §9): one line per agent as its outcome is
// known, then a last line; a fast key's line does not wait for a slow key's backend call.

import test from 'ava';
import http from 'node:http';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startFakeBackend} from './helpers/fake-backend.ts';
import {post, startService} from './helpers/service.ts';

interface Line {
  at: number;
  value: any;
}

/** Sends a streamed request; resolves with the status, the content type and each line with its arrival time. */
function streamed(
  url: string,
  body: unknown,
): Promise<{status: number; type: string; lines: Line[]; headersAt: number}> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/predict`,
      {method: 'POST', headers: {'content-type': 'application/json', accept: 'application/x-ndjson'}},
      (res) => {
        const headersAt = Date.now() - started;
        const lines: Line[] = [];
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let cut = buffered.indexOf('\n');
          while (cut >= 0) {
            lines.push({at: Date.now() - started, value: JSON.parse(buffered.slice(0, cut))});
            buffered = buffered.slice(cut + 1);
            cut = buffered.indexOf('\n');
          }
        });
        res.on('end', () =>
          resolve({status: res.statusCode ?? 0, type: String(res.headers['content-type']), lines, headersAt}),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test("a fast key's line arrives before a slow key's; every agent exactly once; a last line ends it", async (t) => {
  const backend = await startFakeBackend({slowMs: 1200});
  t.teardown(() => backend.close());
  const running = await startService({BACKEND_URL: backend.url, MAX_WAIT_MS: '5', BACKEND_RETRIES: '0'});
  t.teardown(() => running.close());
  const {status, type, lines, headersAt} = await streamed(running.url, {
    agents: {
      quick: {vector: [1, 2], model: 'fast', agent_type: 't'},
      also: {vector: [3], model: 'fast', agent_type: 'u'},
      late: {vector: [4], model: 'slow', agent_type: 't'},
      broken: {vector: [5], model: 'fail500', agent_type: 't'},
    },
  });
  t.is(status, 200);
  t.is(type, 'application/x-ndjson');
  t.true(headersAt < 1000, `the 200 was sent at admission (${headersAt} ms)`);
  const agentLines = lines.slice(0, -1);
  t.deepEqual(agentLines.map((l) => l.value.id).sort(), ['also', 'broken', 'late', 'quick']);
  const byId = Object.fromEntries(agentLines.map((l) => [l.value.id, l]));
  t.is(byId.quick.value.prediction, predictRow(bias('fast', 't'), [1, 2]));
  t.is(byId.also.value.prediction, predictRow(bias('fast', 'u'), [3]));
  t.is(byId.late.value.prediction, predictRow(bias('slow', 't'), [4]));
  t.is(byId.broken.value.error.code, 'backend_error');
  t.true(byId.late.at - byId.quick.at > 800, `fast line at ${byId.quick.at} ms, slow at ${byId.late.at} ms`);
  t.deepEqual(lines.at(-1)!.value, {request_id: lines.at(-1)!.value.request_id, errors: true, done: true});
  t.is(running.service.coordinator.stats.liveParts, 0);
});

test('request-level errors are answered as usual before any line; without the Accept header the answer is one JSON body', async (t) => {
  const running = await startService();
  t.teardown(() => running.close());
  const bad = await post(`${running.url}/predict`, {agents: {}}, {accept: 'application/x-ndjson'});
  t.is(bad.status, 422);
  t.is(bad.body.error.code, 'validation_error');
  const plain = await post(`${running.url}/predict`, {agents: {a: {vector: [1], model: 'm', agent_type: 't'}}});
  t.is(plain.status, 200);
  t.truthy(plain.body.results.a.prediction);
});

test('a streaming client that disconnects has its waiting agents withdrawn', async (t) => {
  const running = await startService({MAX_WAIT_MS: '600', BACKEND_LATENCY_MIN_MS: '50', BACKEND_LATENCY_MAX_MS: '50'});
  t.teardown(() => running.close());
  const req = http.request(`${running.url}/predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/x-ndjson'},
  });
  req.on('error', () => {});
  req.on('response', (res) => {
    res.resume();
    setTimeout(() => req.destroy(), 100);
  });
  req.end(
    JSON.stringify({
      agents: {a: {vector: [1], model: 'm', agent_type: 't'}, b: {vector: [2], model: 'm', agent_type: 't'}},
    }),
  );
  await new Promise((r) => setTimeout(r, 400));
  t.is(running.service.coordinator.stats.withdrawn, 2);
  t.is(running.service.coordinator.stats.liveParts, 0);
});
