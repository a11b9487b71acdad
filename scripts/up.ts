// Starting a server in its own process and waiting for it: used by the tests, the CI smoke check
// and the bench, so that there is one wait loop and one way to pick a port.

import type {ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import net from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';

/** A TCP port free on loopback right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const {port} = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Polls `url` until it answers 2xx. Fails early when `child` exits, and after `timeoutMs`
 * with `describe()` (e.g. the child's stderr) in the message.
 */
export async function waitUntilUp(
  url: string,
  options: {child?: ChildProcess; timeoutMs?: number; describe?: () => string} = {},
): Promise<void> {
  const {child, timeoutMs = 20_000, describe = () => ''} = options;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null)
      throw new Error(`exited with code ${child.exitCode} before ${url} answered: ${describe()}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(50);
  }
  throw new Error(`${url} did not answer 2xx within ${timeoutMs} ms: ${describe()}`);
}
