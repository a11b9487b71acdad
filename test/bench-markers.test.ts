// The bench's marked blocks (bench/markers.ts): a full run rewrites RESULTS.md whole and keeps the
// blocks it does not write itself, once each and in their order; a scenario run on its own rewrites
// only its group's block.

import test from 'ava';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {keepMarkedBlocks, writeBetweenMarkers} from '../bench/markers.ts';

const block = (name: string, body: string) => `<!-- ${name} -->\n${body}\n<!-- /${name} -->`;

test('a full run keeps the marked blocks it does not write, in their order, and not the rest', (t) => {
  const old = `# Old\n\nold figures\n\n${block('real-model:section', 'rows/s')}\n\n${block('notes:v8', 'GC pauses')}\n`;
  const fresh = '# New\n\nnew figures\n';
  t.is(
    keepMarkedBlocks(old, fresh),
    `# New\n\nnew figures\n\n${block('real-model:section', 'rows/s')}\n\n${block('notes:v8', 'GC pauses')}\n`,
  );
});

test('a block the new text writes itself is not carried over a second time', (t) => {
  const old = `${block('notes:v8', 'old')}\n`;
  const fresh = `# New\n\n${block('notes:v8', 'new')}\n`;
  t.is(keepMarkedBlocks(old, fresh), fresh);
});

test('a scenario rewrites the block of its own group only, and appends it when the file has none', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-markers-'));
  t.teardown(() => rm(dir, {recursive: true, force: true}));
  const file = path.join(dir, 'RESULTS.md');
  const headline = (group: string, body: string) => block(`${group}:headline`, body);
  await writeFile(
    file,
    `# Bench

${headline('real-model', 'rows/s')}

${headline('protocols', 'old')}

tail
`,
  );
  await writeBetweenMarkers(file, 'headline', 'binary 0.16 ms', 'protocols');
  t.is(
    await readFile(file, 'utf8'),
    `# Bench

${headline('real-model', 'rows/s')}

${headline('protocols', 'binary 0.16 ms')}

tail
`,
  );
  await writeBetweenMarkers(file, 'section', 'the table', 'protocols');
  await writeBetweenMarkers(file, 'headline', '20,000 rows/s');
  t.is(
    await readFile(file, 'utf8'),
    `# Bench

${headline('real-model', '20,000 rows/s')}

${headline('protocols', 'binary 0.16 ms')}

tail

${block('protocols:section', 'the table')}
`,
  );
});
