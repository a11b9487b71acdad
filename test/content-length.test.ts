// A declared body too large for MAX_BODY_BYTES is refused from its headers alone: 413 at once,
// before a byte of the body is read, however large the number; clients beside it are served.

import net from 'node:net';
import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {post, startService} from './helpers/service.ts';

/** Sends only the headers of a POST /predict declaring `length` bytes; resolves with what came back once the server closes. */
function declare(port: number, length: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.once('close', () => resolve(received));
    socket.once('error', reject);
    socket.write(
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
    );
  });
}

test('Content-Length 10^12 (or 2^32 + 1, or past 2^53) gets 413 payload_too_large from the headers alone, beside exact answers', async (t) => {
  const running = await startService({MAX_BODY_BYTES: '4096'});
  t.teardown(() => running.close());
  const port = Number(new URL(running.url).port);
  const normal = Array.from({length: 20}, (_, c) =>
    post(`${running.url}/predict`, {agents: {a: {vector: [c, 2], model: 'm', agent_type: 't'}}}),
  );
  // No body byte is ever sent: only an answer from the headers ends these. (A length under the
  // drain bound, 8 MiB, waits for the body a moment so that the client reads its 413: early-answers.test.ts.)
  for (const length of ['1000000000000', '9007199254740993', String(2 ** 32 + 1)]) {
    const received = await declare(port, length);
    t.regex(received, /^HTTP\/1\.1 413 /, length);
    t.regex(received, /\r\nconnection: close\r\n/i);
    t.regex(received, /"code":"payload_too_large","message":"request body is larger than 4096 bytes"/);
  }
  for (const [c, reply] of (await Promise.all(normal)).entries()) {
    t.is(reply.status, 200);
    t.is(reply.body.results.a.prediction, predictRow(bias('m', 't'), [c, 2]));
  }
  // A body of exactly MAX_BODY_BYTES is read and served.
  const vector = [1, 2];
  const body = JSON.stringify({agents: {a: {vector, model: 'm', agent_type: 't'}}});
  const padded = body + ' '.repeat(4096 - Buffer.byteLength(body));
  const atLimit = await post(`${running.url}/predict`, padded);
  t.is(atLimit.status, 200);
  t.is(atLimit.body.results.a.prediction, predictRow(bias('m', 't'), vector));
});
