// DESIGN §4's network, in-process: exact output after a latency drawn by the simulator's rule.

import {setTimeout as sleep} from 'node:timers/promises';
import {bias, predictRow} from '../../src/simulator/formula.ts';
import {sampleLatencyMs} from '../../src/simulator/latency.ts';
import type {LatencyRange} from '../../src/simulator/latency.ts';
import type {Backend, BackendCall, BackendReply} from './backend.ts';

export class SimulatedBackend implements Backend {
  readonly #range: LatencyRange;
  readonly #random: () => number;

  constructor(range: LatencyRange, random: () => number = Math.random) {
    this.#range = range;
    this.#random = random;
  }

  async predict(call: BackendCall): Promise<BackendReply> {
    const latency = sampleLatencyMs(this.#range, this.#random);
    if (latency > 0) await sleep(latency);
    const b = bias(call.model, call.agentType);
    const values = new Float64Array(call.rows.length);
    for (let i = 0; i < call.rows.length; i++) values[i] = predictRow(b, call.rows[i]);
    return {values};
  }

  async close(): Promise<void> {}
}
