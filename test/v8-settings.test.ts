import test from 'ava';
import {readFileSync} from 'node:fs';
import {dockerCmd} from '../scripts/docker-cmd.ts';

test('npm start, npm run gateway / actors and the Dockerfile CMD start node with the same V8 settings', (t) => {
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts as Record<
    string,
    string
  >;
  const flags = (words: string[]) => words.filter((w) => w.startsWith('--max-'));
  const image = flags(dockerCmd());
  t.deepEqual(
    image,
    ['--max-semi-space-size=16', '--max-old-space-size=2047'],
    'the measured setting (bench/RESULTS.md, "Open requests")',
  );
  for (const name of ['start', 'gateway', 'actors']) t.deepEqual(flags(scripts[name].split(/\s+/)), image, name);
});
