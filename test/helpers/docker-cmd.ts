// The Dockerfile's CMD, read from the Dockerfile itself, so tests and CI start the service
// exactly as the image does.

import {readFileSync} from 'node:fs';

export function dockerCmd(dockerfile = new URL('../../Dockerfile', import.meta.url)): string[] {
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CMD '));
  if (!line) throw new Error('Dockerfile has no CMD');
  const cmd = JSON.parse(line.slice(4)) as string[];
  if (!Array.isArray(cmd) || cmd[0] !== 'node') throw new Error(`unexpected CMD: ${line}`);
  return cmd;
}
