// What a running service serves, read from its GET /models, so that every example tool sends
// only valid agents, with the model registry (MODELS_FILE=examples/models.json: listed models,
// their agent types and vector lengths) or without it (any name: the example keys below).

import {fail, unreachable} from './cli.ts';

/** One (model, agent type) the service serves; vectorLength when the registry fixes it. */
export interface ServedKey {
  readonly model: string;
  readonly agentType: string;
  readonly vectorLength?: number;
}

export const exampleModels = ['resnet-50', 'gpt-mini', 'bert-base'];
export const exampleAgentTypes = ['scout', 'pilot'];

/** The example keys, agent type by agent type: what the tools send to a service serving any name. */
export function exampleKeys(models = exampleModels, agentTypes = exampleAgentTypes): ServedKey[] {
  return agentTypes.flatMap((agentType) => models.map((model) => ({model, agentType})));
}

interface ModelsReply {
  any_model: boolean;
  models: Record<
    string,
    {agent_types: string[] | null; vector_length: number | null; backend?: string | {kind: string}}
  >;
}

/**
 * Whether a model's answers are the simulated network's formula, which the tools check: the
 * in-process network or a stand-in over our HTTP protocol (`npm run backend`), both shown by
 * GET /models as a string. A model computed by ONNX Runtime in the actor threads is not, nor one
 * behind a model server's protocol (`v2`, `tfserving`: the server sees its own model name and rows,
 * not the agent type); the tools leave those to their own examples (README, "Real models", "Put it
 * in front of Triton / KServe / TF Serving").
 */
const byFormula = (backend: string | {kind: string} | undefined) => typeof backend !== 'object';

/** The keys the service at `url` serves (GET /models); ends the tool with one line if it cannot be reached. */
export async function servedKeys(program: string, url: string): Promise<ServedKey[]> {
  const base = url.replace(/\/$/, '');
  const response = await fetch(`${base}/models`).catch((error: unknown) => fail(program, unreachable(base, error)));
  if (!response.ok) fail(program, `${base}/models answered ${response.status}: is this an agent-batcher service?`);
  const reply = (await response.json()) as ModelsReply;
  if (reply.any_model) return exampleKeys();
  const keys = Object.entries(reply.models)
    .filter(([, m]) => byFormula(m.backend))
    .flatMap(([model, m]) =>
      (m.agent_types ?? exampleAgentTypes).map((agentType) => ({
        model,
        agentType,
        ...(m.vector_length !== null && {vectorLength: m.vector_length}),
      })),
    );
  if (keys.length === 0) fail(program, nothingToSend(base, Object.keys(reply.models)));
  return keys;
}

/** The one line when every served model is computed by something other than the formula. */
export function nothingToSend(url: string, models: readonly string[]): string {
  return `nothing to send: every model ${url} serves (${models.join(', ')}) is onnx, v2 or tfserving, whose answers this tool cannot check; start the service without MODELS_FILE, or with a registry that has a simulated or http model`;
}
