// A MODELS_FILE for a test: the registry written into a fresh temp folder, as text when given text
// (a broken file on purpose), else as JSON.

import {mkdtemp, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function modelsFile(content: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-models-'));
  const file = path.join(dir, 'models.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}
