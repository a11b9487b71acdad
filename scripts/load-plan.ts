// The requests a load sends: the mixed multi-agent payloads of the benchmarks and of `npm run
// load`, over the keys a service serves (served.ts), with a marker per agent when the bench must
// find its rows at the backend.

import {exampleKeys} from './served.ts';
import type {ServedKey} from './served.ts';

export interface AgentPayload {
  readonly vector: number[];
  readonly model: string;
  readonly agent_type: string;
}

export interface RequestPlan {
  readonly agents: Record<string, AgentPayload>;
  /** Unique per agent (the vector's first value), to match rows the backend saw. */
  readonly markers?: readonly number[];
}

/**
 * The mixed multi-agent payloads of the benchmarks and of `npm run load`: agent i of request seq
 * takes key (seq + i) of `keys` (default: the example keys, 3 models × 2 agent types), with the
 * key's vector length when the registry fixes one, else `length`.
 */
export function mixedPlan(options: {agents: number; length: number; keys?: readonly ServedKey[]; marker?: boolean}) {
  const keys = options.keys ?? exampleKeys();
  let marker = 0;
  return (seq: number): RequestPlan => {
    const agents: Record<string, AgentPayload> = {};
    const markers: number[] = [];
    for (let i = 0; i < options.agents; i++) {
      const key = keys[(seq + i) % keys.length];
      const length = key.vectorLength ?? options.length;
      const vector = new Array<number>(length);
      for (let j = 0; j < length; j++) vector[j] = ((seq * 31 + i * 7 + j) % 97) / 10 - 4.8;
      if (options.marker) {
        vector[0] = ++marker;
        markers.push(marker);
      }
      agents[`agent-${i}`] = {vector, model: key.model, agent_type: key.agentType};
    }
    return {agents, markers};
  };
}
