// The bench's marked blocks (bench/markers.ts): a full run rewrites RESULTS.md whole and keeps the
// blocks it does not write itself, once each and in their order.

import test from 'ava';
import {keepMarkedBlocks} from '../bench/markers.ts';

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
