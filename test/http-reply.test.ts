// What the HTTP client reads of a response (workers/backend/http-reply.ts): an error body's text for
// the log, whatever the server wrote, and Retry-After in both of its forms. The capped read is tested
// through the client (http-backend.test.ts, v2-backend.test.ts: a reply over the cap).

import test from 'ava';
import {errorText, retryAfterMs} from '../workers/backend/http-reply.ts';

test("errorText takes the error object's string, cut for a log line, and nothing from any other body", (t) => {
  t.is(
    errorText(Buffer.from('{"error": "Request for unknown model: \'m\' is not found"}')),
    "Request for unknown model: 'm' is not found",
  );
  t.is(errorText(Buffer.from(JSON.stringify({error: 'x'.repeat(10_000)})))?.length, 500);
  for (const body of ['<html>502 Bad Gateway</html>', '', 'null', '[]', '{"error": {"code": 3}}', '{"message": "no"}'])
    t.is(errorText(Buffer.from(body)), undefined, body);
});

test('retryAfterMs reads seconds and an HTTP date, and anything else as no wait', (t) => {
  t.is(retryAfterMs('2'), 2000);
  t.is(retryAfterMs('0.5'), 500);
  t.is(retryAfterMs(['3', '9']), 3000, 'the first of repeated headers');
  const date = retryAfterMs(new Date(Date.now() + 5000).toUTCString());
  t.true(date > 3000 && date <= 5000, `${date} ms until a date 5 s away (whole seconds)`);
  t.is(retryAfterMs(new Date(Date.now() - 60_000).toUTCString()), 0, 'a date past');
  for (const header of [undefined, '', '-3', 'soon', []]) t.is(retryAfterMs(header), 0, String(header));
});

test("errorText is one line, with the client's credentials cut out, and nothing from an error body nested 100,000 deep", (t) => {
  const secrets = ['s3cr%40t', 's3cr@t', 'dTpzM2NyQHQ='];
  const echoed = JSON.stringify({error: 'denied: Basic dTpzM2NyQHQ= (u:s3cr@t)\nline two\r\u2028three\u0000'});
  t.is(errorText(Buffer.from(echoed), secrets), 'denied: Basic [redacted] (u:[redacted]) line two three ');
  const deep = `{"error": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  t.is(errorText(Buffer.from(deep)), undefined);
  // A text cut at the limit ends with … and is 500 characters, the secret cut out before the cut.
  const long = errorText(Buffer.from(JSON.stringify({error: `${'x'.repeat(495)}s3cr@t`})), secrets);
  t.is(long, `${'x'.repeat(495)}[red…`);
});
