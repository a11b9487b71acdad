// For the baselines that hold each request for the backend's delay (HOLD=1), as this service's
// simulated backend would: one delay drawn (BACKEND_LATENCY_MIN_MS..MAX_MS) per mailbox key among
// the request's agents, the request held for the slowest. That is what a batching server's
// request waits for (each key's agents ride that key's batch, each batch draws its own delay), so
// the baseline's clients come back with the same spread as the servers' beside it. One draw per
// request instead would answer them 4 times more evenly than any batching server can.

import {sampleLatencyMs} from '../../src/simulator/latency.ts';

export const holding = process.env.HOLD === '1';
const latency = {
  latencyMinMs: Number(process.env.BACKEND_LATENCY_MIN_MS ?? 3000),
  latencyMaxMs: Number(process.env.BACKEND_LATENCY_MAX_MS ?? 7000),
};

/** The delay to hold a request for: the slowest of one draw per distinct mailbox key (keyString). */
export function holdMs(keys: readonly string[]): number {
  let ms = 0;
  for (let i = Math.max(1, new Set(keys).size); i > 0; i--) ms = Math.max(ms, sampleLatencyMs(latency));
  return ms;
}
