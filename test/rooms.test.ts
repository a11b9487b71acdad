// The ranking of the rooms (scripts/rooms.ts, README "Where things live") holds for the house, and
// the check finds an upward import wherever it is written.

import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {rankOf, roomProblems} from '../scripts/rooms.ts';

const root = path.join(import.meta.dirname, '..');

test('no file of the house imports from a room above its own', (t) => {
  t.deepEqual(roomProblems(root), []);
});

test('the rooms rank the coordinator below HTTP and metrics, and tools below tests and bench', (t) => {
  t.true(rankOf('src/metrics/metrics.ts') < rankOf('src/http/app.ts'));
  t.true(rankOf('src/http/app.ts') < rankOf('src/coordinator/coordinator.ts'));
  t.true(rankOf('src/coordinator/coordinator.ts') < rankOf('src/protocol/messages.ts'));
  t.true(rankOf('test/helpers/service.ts') < rankOf('bench/run.ts'));
  t.true(rankOf('bench/run.ts') < rankOf('scripts/up.ts'));
});

test('an upward import is found, static, type-only or dynamic; a downward one is not', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rooms-'));
  t.teardown(() => rm(dir, {recursive: true, force: true}));
  const files: Record<string, string> = {
    'src/coordinator/coordinator.ts':
      "import type {Metrics} from '../metrics/metrics.ts';\nimport {x} from '../config.ts';\n",
    'src/http/app.ts':
      "const {Service} = await import('../service/service.ts');\nexport {routes} from './routes.ts';\n",
    'scripts/smoke.ts': "import {dockerCmd} from '../test/helpers/docker-cmd.ts';\n",
    'bench/run.ts': "import {runLoad} from '../scripts/load-generator.ts';\n",
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.join(dir, path.dirname(file)), {recursive: true});
    await writeFile(path.join(dir, file), text);
  }
  for (const folder of ['workers', 'test']) await mkdir(path.join(dir, folder), {recursive: true});
  const problems = roomProblems(dir);
  t.is(problems.length, 3, problems.join('\n'));
  t.true(
    problems.some((p) =>
      p.startsWith('src/coordinator/coordinator.ts (coordinator) imports src/metrics/metrics.ts (metrics)'),
    ),
  );
  t.true(problems.some((p) => p.startsWith('src/http/app.ts (http) imports src/service/service.ts (service)')));
  t.true(problems.some((p) => p.startsWith('scripts/smoke.ts (tools) imports test/helpers/docker-cmd.ts (tests)')));
});
