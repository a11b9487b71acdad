// NATS_URL's password never reaches stdout or stderr of a start that fails, whatever its shape:
// `/`, `@`, spaces, `%` (valid percent-encoding or not), or a host the URL parser refuses (whose
// error would carry the raw value as its `input`).

import test from 'ava';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {clusterKey} from './helpers/cluster.ts';

/** Starts src/main.ts with `env`; its exit code and everything it wrote. */
async function failedStart(env: Record<string, string>): Promise<{code: number | null; output: string}> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {PATH: process.env.PATH ?? '', ROLE: 'gateway', CLUSTER_KEY: clusterKey, ...env},
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
