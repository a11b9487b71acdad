// For the baselines that hold each request for the backend's delay (HOLD=1), as this service's
// simulated backend would: BACKEND_LATENCY_MIN_MS..MAX_MS, sampled per request.

import {sampleLatencyMs} from '../../src/simulator/latency.ts';

export const holding = process.env.HOLD === '1';
const latency = {latencyMinMs: Number(process.env.BACKEND_LATENCY_MIN_MS ?? 3000), latencyMaxMs: Number(process.env.BACKEND_LATENCY_MAX_MS ?? 7000)};

export const holdMs = (): number => sampleLatencyMs(latency);
