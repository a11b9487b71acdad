// `node scripts/smoke.ts DIR`: starts the service in DIR exactly as the Dockerfile's CMD does
// (production dependencies only, as the image has), then checks /readyz, one /predict against
// the formula, and a clean SIGTERM drain with exit code 0. Used by .ci/run.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../src/backend/formula.ts';
import {dockerCmd} from '../test/helpers/docker-cmd.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/smoke.ts DIR');
const port = 20000 + Math.floor(Math.random() * 20000);
const [command, ...args] = dockerCmd();
const child = spawn(command === 'node' ? process.execPath : command, args, {
  cwd: dir,
  env: {...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', BACKEND_LATENCY_MIN_MS: '100', BACKEND_LATENCY_MAX_MS: '200', LOG_LEVEL: 'warn'},
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = once(child, 'exit');
const base = `http://127.0.0.1:${port}`;

const fail = (message: string): never => {
  child.kill('SIGKILL');
  console.error(`smoke: FAIL: ${message}`);
  process.exit(1);
};

let ready = false;
for (let i = 0; i < 100 && !ready; i++) {
  await sleep(100);
  ready = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
}
if (!ready) fail('/readyz never answered 200');

const vector = [0.5, -1.25, 3];
const response = await fetch(`${base}/predict`, {
  method: 'POST',
  headers: {'content-type': 'application/json'},
  body: JSON.stringify({agents: {'scout-1': {vector, model: 'resnet-50', agent_type: 'scout'}}}),
});
const body = (await response.json()) as {results: Record<string, {prediction?: number}>};
if (response.status !== 200) fail(`/predict answered ${response.status}: ${JSON.stringify(body)}`);
const expected = predictRow(bias('resnet-50', 'scout'), vector);
if (body.results['scout-1']?.prediction !== expected) fail(`prediction ${JSON.stringify(body)} != ${expected}`);

child.kill('SIGTERM');
const [code] = await Promise.race([exited, sleep(10_000).then(() => fail('no exit within 10 s after SIGTERM'))]);
if (code !== 0) fail(`exit code ${code} after SIGTERM`);
console.log(`smoke: ok: started as CMD ${JSON.stringify(dockerCmd())} with production dependencies; readyz 200; predict exact; SIGTERM exit 0`);
// The race's timer is still armed: leave now.
process.exit(0);
