// Answers given before a request's body was read whole (413 over MAX_BODY_BYTES, 401, 415, 503
// heap_full, 404) say `Connection: close` and end the connection only once the rest of the body
// is read, so that a pooled client gets its answer and its next request succeeds on a new
// connection, never a reset. Each attack runs on one pooled connection with normal clients beside.

import test from 'ava';
import {execFile} from 'node:child_process';
import net from 'node:net';
import {Readable} from 'node:stream';
import {promisify} from 'node:util';
import {Client} from 'undici';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

const bodyOf = (vectorLength: number, model = 'm') =>
  JSON.stringify({agents: {a: {vector: Array.from({length: vectorLength}, (_, i) => i % 7), model, agent_type: 't'}}});
/** Over the test's MAX_BODY_BYTES (64 KiB), under the drain bound. */
const oversize = bodyOf(60_000);

async function* inChunks(text: string) {
  for (let i = 0; i < text.length; i += 16_384) yield Buffer.from(text.slice(i, i + 16_384));
}

test.serial(
  'on one pooled undici connection: 413 (sized and chunked), 401, 415 and 404 say Connection: close and the next request succeeds, exact',
  async (t) => {
    const running = await startService({MAX_BODY_BYTES: '65536', API_KEYS: 'k1'});
    t.teardown(() => running.close());
    // The connections the pooled client's requests came in on (its requests carry an X-Request-Id).
    const sockets = new Set<unknown>();
    running.service.server.on(
      'request',
      (req) => String(req.headers['x-request-id']).startsWith('pooled') && sockets.add(req.socket),
    );
    const client = new Client(running.url, {pipelining: 1});
    t.teardown(() => client.close());
    const auth = {authorization: 'Bearer k1'};
    const json = {'content-type': 'application/json', 'x-request-id': 'pooled'};
    const attacks: [string, Parameters<Client['request']>[0], number, string][] = [
      [
        'oversize, Content-Length',
        {path: '/predict', method: 'POST', headers: {...json, ...auth}, body: oversize},
        413,
        'payload_too_large',
      ],
      [
        'oversize, chunked',
        {path: '/predict', method: 'POST', headers: {...json, ...auth}, body: Readable.from(inChunks(oversize))},
        413,
        'payload_too_large',
      ],
      ['no key', {path: '/predict', method: 'POST', headers: json, body: bodyOf(20_000)}, 401, 'unauthorized'],
      [
        'not JSON',
        {path: '/predict', method: 'POST', headers: {'content-type': 'text/plain', ...auth}, body: bodyOf(20_000)},
        415,
        'unsupported_media_type',
      ],
      ['unknown route', {path: '/nowhere', method: 'POST', headers: json, body: bodyOf(20_000)}, 404, 'not_found'],
    ];
    // Normal clients on their own connections all the while.
    const normal = Promise.all(
      Array.from({length: 20}, (_, c) =>
        post(`${running.url}/predict`, {agents: {n: {vector: [c, 2], model: 'm', agent_type: 't'}}}, auth),
      ),
    );
    for (const [name, request, status, code] of attacks) {
      const refused = await client.request(request);
      const text = await refused.body.text();
      t.is(refused.statusCode, status, `${name}: ${text}`);
      t.is(JSON.parse(text).error.code, code, name);
      t.is(refused.headers.connection, 'close', name);
      const next = await client.request({
        path: '/predict',
        method: 'POST',
        headers: {...json, ...auth},
        body: bodyOf(3, 'after'),
      });
      const answer = (await next.body.json()) as {results: {a: {prediction: number}}};
      t.is(next.statusCode, 200, `the request after "${name}"`);
      t.is(answer.results.a.prediction, predictRow(bias('after', 't'), [0, 1, 2]));
      t.is(next.headers.connection, 'keep-alive', 'an answer after a body read whole keeps its connection');
    }
    for (const [c, reply] of (await normal).entries())
      t.is(reply.body.results.n.prediction, predictRow(bias('m', 't'), [c, 2]));
    t.is(
      sockets.size,
      attacks.length + 1,
      'each early answer ended its connection; the request after one and the next attack shared the next',
    );
  },
);

test.serial(
  '503 heap_full is answered before the body is read, then closes cleanly: the next request on the connection gets its answer',
  async (t) => {
    const running = await startService({MAX_HEAP_FRACTION: '0.001'});
    t.teardown(() => running.close());
    const client = new Client(running.url, {pipelining: 1});
    t.teardown(() => client.close());
    for (let i = 0; i < 3; i++) {
      const reply = await client.request({
        path: '/predict',
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: bodyOf(100_000),
      });
      t.is(reply.statusCode, 503);
      t.is(((await reply.body.json()) as {error: {code: string}}).error.code, 'overloaded');
      t.is(reply.headers.connection, 'close');
    }
  },
);

test.serial(
  "Python's requests.Session (or http.client keep-alive) gets its 413 and 401s (one with a large body), then its next request succeeds on the same session",
  async (t) => {
    const running = await startService({MAX_BODY_BYTES: '65536', API_KEYS: 'k1'});
    t.teardown(() => running.close());
    // Prints one JSON line per request: status, Connection header, body.
    const script = `
import json, sys
url, big = sys.argv[1], '{"agents": {"a": {"vector": [%s], "model": "m", "agent_type": "t"}}}' % ",".join(["1"] * 60000)
small = '{"agents": {"a": {"vector": [1, 2], "model": "py", "agent_type": "t"}}}'
steps = [(big, "k1"), (small, "k1"), (small, "wrong"), (small, "k1"), (big, None), (small, "k1")]  # the last big one: 401 before its size
try:
    import requests
    session, kind = requests.Session(), "requests"
    def send(body, key):
        headers = {"Content-Type": "application/json"}
        if key: headers["Authorization"] = "Bearer " + key
        r = session.post(url + "/predict", data=body, headers=headers)
        return r.status_code, r.headers.get("Connection"), r.json()
except ImportError:
    import http.client, urllib.parse
    kind, host = "http.client", urllib.parse.urlparse(url).netloc
    conn = [http.client.HTTPConnection(host)]
    def send(body, key):
        headers = {"Content-Type": "application/json"}
        if key: headers["Authorization"] = "Bearer " + key
        conn[0].request("POST", "/predict", body=body, headers=headers)
        r = conn[0].getresponse()
        out = (r.status, r.getheader("Connection"), json.loads(r.read()))
        if r.will_close: conn[0].close(); conn[0] = http.client.HTTPConnection(host)
        return out
print(kind)
for body, key in steps:
    print(json.dumps(send(body, key)))
`;
    const {stdout} = await promisify(execFile)('python3', ['-c', script, running.url]);
    const [kind, ...lines] = stdout.trim().split('\n');
    t.log(`client: ${kind}`);
    const replies = lines.map((l) => JSON.parse(l) as [number, string | null, any]);
    t.deepEqual(
      replies.map(([status, connection]) => [status, connection]),
      [
        [413, 'close'],
        [200, 'keep-alive'],
        [401, 'close'],
        [200, 'keep-alive'],
        [401, 'close'],
        [200, 'keep-alive'],
      ],
    );
    for (const i of [1, 3, 5]) t.is(replies[i][2].results.a.prediction, predictRow(bias('py', 't'), [1, 2]));
  },
);

test.serial(
  'a declared body past the drain bound is answered at once and the connection ends, never held open',
  async (t) => {
    const running = await startService({MAX_BODY_BYTES: '65536'});
    t.teardown(() => running.close());
    const port = Number(new URL(running.url).port);
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    const ended = new Promise<string>((resolve) => socket.once('close', () => resolve('closed')));
    // 1 GB declared, 64 KiB sent, and then nothing: the server must not wait for the rest.
    socket.write(
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n${'1'.repeat(65_536)}`,
    );
    const outcome = await Promise.race([
      ended,
      new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 3000)),
    ]);
    socket.destroy();
    t.is(outcome, 'closed');
    t.regex(received, /^HTTP\/1\.1 413 /);
    t.regex(received, /\r\nconnection: close\r\n/i);
    const after = await post(`${running.url}/predict`, bodyOf(2));
    t.is(after.body.results.a.prediction, predictRow(bias('m', 't'), [0, 1]));
  },
);
