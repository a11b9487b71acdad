// NATS_URL's password never reaches stdout or stderr of a start that fails, whatever its shape:
// `/`, `@`, spaces, `%` (valid percent-encoding or not), or a host the URL parser refuses (whose
// error would carry the raw value as its `input`).

import test from 'ava';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {cleanup, clusterKey, startNats} from './helpers/cluster.ts';

/** Starts src/main.ts with `env`; its exit code and everything it wrote. */
async function failedStart(env: Record<string, string>): Promise<{code: number | null; output: string}> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    // Any free port: a gateway binds its port before it connects to NATS, and 8000 may be taken.
    env: {PATH: process.env.PATH ?? '', ROLE: 'gateway', CLUSTER_KEY: clusterKey, PORT: '0', HOST: '127.0.0.1', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const [code] = await once(child, 'exit');
  return {code: code as number | null, output};
}

const secret = 'GQ/V W@X%zzY%Z';
const urls = [
  `nats://gw1:${secret}@127.0.0.1:4222`,
  `nats://gw1:${encodeURIComponent(secret).replace('%25zz', '%zz')}@127.0.0.1:4222`,
  `nats://gw1:GQVWXY@bad^host:4222`,
  `nats://127.0.0.1:4222,tls://gw1:${secret}@[::1]:4222`,
];

for (const [i, NATS_URL] of urls.entries())
  test(`a failed start with NATS_URL shape ${i + 1} names NATS_URL and shows no part of the password`, async (t) => {
    const {code, output} = await failedStart({NATS_URL});
    t.not(code, 0);
    t.regex(output, /NATS_URL/);
    for (const part of ['GQ', 'VW', 'W@X', 'X%zz', 'Y%Z', 'GQVWXY', encodeURIComponent(secret).slice(0, 6)])
      t.false(output.includes(part), `${part} shown in: ${output.slice(0, 400)}`);
  });

/** One line on stderr, no stack, nothing of `secrets`. */
function oneLine(
  t: {false(v: boolean, m?: string): void; regex(s: string, r: RegExp): void},
  output: string,
  secrets: string[],
  pattern: RegExp,
) {
  t.regex(output, pattern);
  t.false(/\n\s+at /.test(output), `a stack in: ${output.slice(0, 400)}`);
  t.false(output.includes('"level":60'), 'no fatal log line');
  for (const secret of secrets) t.false(output.includes(secret), `${secret} shown`);
}

test('NATS_URL with servers carrying different credentials is refused in one line, naming none of them', async (t) => {
  const {code, output} = await failedStart({
    NATS_URL: 'nats://gw1:FIRSTSECRET@127.0.0.1:4222,nats://gw1:SECONDSECRET@127.0.0.2:4222',
  });
  t.is(code, 1);
  oneLine(t, output, ['FIRSTSECRET', 'SECONDSECRET'], /NATS_URL: its servers carry different credentials/);
});

test.serial(
  'a wrong NATS password, and a NATS_CREDS file that is not one, stop either role with one line, no stack, no secret',
  async (t) => {
    const nats = await startNats(undefined, ['--user', 'gw1', '--pass', 'RIGHTSECRET']);
    cleanup(t, nats);
    const dir = mkdtempSync(path.join(tmpdir(), 'bad-creds-'));
    const creds = path.join(dir, 'bad.creds');
    writeFileSync(
      creds,
      '-----BEGIN NATS USER JWT-----\nSECRETJWTeyJhbGciOi\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUSECRETSEEDAAAAAAAAAAAA\n------END USER NKEY SEED------\n',
    );
    const url = `nats://127.0.0.1:${nats.port}`;
    for (const ROLE of ['gateway', 'actors']) {
      const wrong = await failedStart({ROLE, NATS_URL: `nats://gw1:WRONGSECRET@127.0.0.1:${nats.port}`});
      t.is(wrong.code, 1);
      oneLine(
        t,
        wrong.output,
        ['WRONGSECRET', 'RIGHTSECRET'],
        /NATS refused this node's credentials: the user and password in NATS_URL/,
      );
      const bad = await failedStart({ROLE, NATS_URL: url, NATS_CREDS: creds});
      t.is(bad.code, 1);
      oneLine(
        t,
        bad.output,
        ['SECRETJWT', 'SUSECRETSEED'],
        /NATS_CREDS .*bad\.creds: not a valid NATS credentials file/,
      );
    }
  },
);
