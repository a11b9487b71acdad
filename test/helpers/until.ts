// Waiting on state, not on time: a test polls what it waits for (a counter, a status, a metric)
// and goes on the moment it holds, however slow the machine is; only ava's own timeout ends it.

import {setTimeout as sleep} from 'node:timers/promises';
import {parsePrometheus} from './prom-text.ts';

/** Resolves with the first truthy value `check` gives, polling every `everyMs`. */
export async function until<T>(check: () => T | Promise<T>, everyMs = 20): Promise<NonNullable<T>> {
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    await sleep(everyMs);
  }
}

/** The sum of a metric's samples on a service's /metrics (0 when absent or unreachable). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return parsePrometheus(text)
    .filter((s) => s.name === name)
    .reduce((sum, s) => sum + s.value, 0);
}
