// What a deployment reads: the Dockerfile's install agrees with .ci/run's copy of its recipe (the
// one CI proves), Compose takes CLUSTER_KEY from the environment, and a streamed answer tells a
// proxy in front not to buffer it.

import {readFileSync} from 'node:fs';
import test from 'ava';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {startService} from './helpers/service.ts';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** The flags of the `npm ci` in `text` that installs production dependencies only. */
function npmCiFlags(text: string): string[] {
  const line = text.split('\n').find((l) => /npm ci [^\n]*--omit=dev/.test(l));
  if (!line) throw new Error('no npm ci --omit=dev');
  const command = line.slice(line.indexOf('npm ci') + 'npm ci'.length).split('&&')[0];
  const words = command.split(/[\s)>]+/);
  // Output and report flags say nothing about what is installed.
  return words.filter((w) => w.startsWith('--') && !['--no-audit', '--no-fund'].includes(w)).sort();
}

test("the Dockerfile installs as .ci/run's copy of its recipe does: production dependencies, no install scripts", (t) => {
  const image = npmCiFlags(read('Dockerfile'));
  t.deepEqual(image, npmCiFlags(read('.ci/run')));
  t.deepEqual(image, ['--ignore-scripts', '--omit=dev']);
});

test('scripts/compose.yaml takes CLUSTER_KEY from the environment, with no literal key and nothing that stops the single profile', (t) => {
  const compose = read('scripts/compose.yaml');
  const values = [...compose.matchAll(/^\s*CLUSTER_KEY:\s*(.*)$/gm)].map((m) => m[1].trim());
  t.deepEqual(values, [['$', '{CLUSTER_KEY:-}'].join('')]);
});

test('a streamed answer says X-Accel-Buffering: no, so nginx passes each line on as it comes', async (t) => {
  const running = await startService();
  t.teardown(() => running.close());
  const response = await fetch(`${running.url}/predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/x-ndjson'},
    body: JSON.stringify({agents: {a: {vector: [1, 2], model: 'm', agent_type: 't'}}}),
  });
  t.is(response.headers.get('x-accel-buffering'), 'no');
  const lines = (await response.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(lines[0].prediction, predictRow(bias('m', 't'), [1, 2]));
  t.true(lines[1].done);
  const whole = await fetch(`${running.url}/predict`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({agents: {a: {vector: [1], model: 'm', agent_type: 't'}}}),
  });
  t.is(whole.headers.get('x-accel-buffering'), null, 'only streams need it');
  await whole.text();
});
