// Waiting on state, not on time: polls a condition until it holds, or fails naming what never
// happened. The bound is only a backstop against a hang (generous: a loaded machine is slow, and
// no test asserts how long anything took).

import {setTimeout as sleep} from 'node:timers/promises';

export async function waitFor(what: string, condition: () => boolean, backstopMs = 30_000): Promise<void> {
  const until = Date.now() + backstopMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`waited ${backstopMs} ms for: ${what}`);
    await sleep(5);
  }
}
