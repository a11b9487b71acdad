// A generated block in a Markdown file: the text between `<!-- real-model:NAME -->` and
// `<!-- /real-model:NAME -->` is replaced on each run, the rest of the file is left as it is.

import {readFile, writeFile} from 'node:fs/promises';

/** Replaces the text between `<!-- real-model:NAME -->` and `<!-- /real-model:NAME -->` in `file` (appended when absent). */
export async function writeBetweenMarkers(file: string, name: string, body: string): Promise<void> {
  const open = `<!-- real-model:${name} -->`;
  const close = `<!-- /real-model:${name} -->`;
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
