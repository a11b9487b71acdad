// The Dockerfile's CMD, read from the Dockerfile itself, so tests and CI start the service
// exactly as the image does.

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {freePort, waitUntilUp} from './up.ts';

export function dockerCmd(dockerfile = new URL('../Dockerfile', import.meta.url)): string[] {
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CMD '));
  if (!line) throw new Error('Dockerfile has no CMD');
  const cmd = JSON.parse(line.slice(4)) as string[];
  if (!Array.isArray(cmd) || cmd[0] !== 'node') throw new Error(`unexpected CMD: ${line}`);
  return cmd;
}

export interface Image {
  readonly child: ChildProcess;
  readonly url: string;
  /** What the service wrote to stderr so far. */
  stderr(): string;
}

/** Starts the service as the image's CMD does, in its own process, and waits until /readyz is 200. */
export async function startAsImage(env: Record<string, string>, cwd?: string): Promise<Image> {
  const port = await freePort();
  const [command, ...args] = dockerCmd();
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd,
    env: {...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(`${url}/readyz`, {child, describe: () => stderr});
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {child, url, stderr: () => stderr};
}
