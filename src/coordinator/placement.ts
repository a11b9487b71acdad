// Placement in one process: a new key goes to the thread hosting the fewest keys (the lowest
// index among equals) and stays there while it has anything in flight (keys.ts).

import type {Placement} from './transport.ts';

/** The fewest-keys placement over threads 0 .. threads - 1. */
export function fewestKeys(threads: number): Placement {
  return {
    place(_key, keysOn) {
      let thread = 0;
      for (let i = 1; i < threads; i++) if (keysOn(i) < keysOn(thread)) thread = i;
      return thread;
    },
  };
}
