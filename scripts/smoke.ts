// `node scripts/smoke.ts DIR`: starts the service in DIR exactly as the Dockerfile's CMD does
// (production dependencies only, as the image has), then checks /readyz, one /predict against
// the formula, and a clean SIGTERM drain with exit code 0. Used by .ci/run.

import {once} from 'node:events';
import {raceTimeout} from '../src/race-timeout.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {dockerCmd, startAsImage} from './docker-cmd.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/smoke.ts DIR');
const fail = (message: string): never => {
  console.error(`smoke: FAIL: ${message}`);
  process.exit(1);
};
const {
  child,
  url: base,
  stderr,
} = await startAsImage(
  {NODE_ENV: 'production', BACKEND_LATENCY_MIN_MS: '100', BACKEND_LATENCY_MAX_MS: '200'},
  dir,
).catch((error: Error) => fail(`/readyz never answered 200: ${error.message}`));
const exited = once(child, 'exit');
process.on('exit', () => child.kill('SIGKILL'));

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
const [code] = await raceTimeout(exited, 10_000, () => fail('no exit within 10 s after SIGTERM'));
if (code !== 0) fail(`exit code ${code} after SIGTERM: ${stderr()}`);
console.log(
  `smoke: ok: started as CMD ${JSON.stringify(dockerCmd())} with production dependencies; readyz 200; predict exact; SIGTERM exit 0`,
);
// The race's timer is still armed: leave now.
process.exit(0);
