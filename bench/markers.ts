// Marked blocks in a Markdown file: the text between `<!-- GROUP:NAME -->` and
// `<!-- /GROUP:NAME -->`. A scenario that runs on its own (real-model, protocols) rewrites its
// blocks and leaves the rest of the file as it is; a full run, which rewrites RESULTS.md whole,
// keeps the blocks it does not write itself (another scenario's, and the notes on earlier runs
// kept by hand).

import {readFile, writeFile} from 'node:fs/promises';

/** Replaces the text between `<!-- GROUP:NAME -->` and `<!-- /GROUP:NAME -->` in `file` (appended when absent). */
export async function writeBetweenMarkers(
  file: string,
  name: string,
  body: string,
  group = 'real-model',
): Promise<void> {
  const open = `<!-- ${group}:${name} -->`;
  const close = `<!-- /${group}:${name} -->`;
  const text = await readFile(file, 'utf8');
  const block = `${open}\n${body}\n${close}`;
  const at = text.indexOf(open);
  const end = text.indexOf(close);
  await writeFile(
    file,
    at >= 0 && end > at
      ? text.slice(0, at) + block + text.slice(end + close.length)
      : `${text.trimEnd()}\n\n${block}\n`,
  );
}

const markedBlock = /<!-- ([a-z0-9-]+:[a-z0-9-]+) -->[\s\S]*?<!-- \/\1 -->/g;

/** `fresh`, with every marked block of `old` that `fresh` does not have appended, in `old`'s order. */
export function keepMarkedBlocks(old: string, fresh: string): string {
  let text = fresh;
  for (const match of old.matchAll(markedBlock)) {
    if (!text.includes(`<!-- ${match[1]} -->`)) text = `${text.trimEnd()}\n\n${match[0]}\n`;
  }
  return text;
}
