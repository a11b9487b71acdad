// The zod schemas of the HTTP API: the single source of the request and response types, of the
// validation with its per-field details, and (issue: operability) of the OpenAPI description.

import {z} from 'zod';
import type {ErrorDetail} from '../errors.ts';
import {agentErrorCodes} from '../errors.ts';
import type {AgentInput} from '../coordinator/api.ts';
import {Name} from '../names.ts';
import {keyString} from '../protocol/mailbox-key.ts';
import type {ModelEntry, Registry} from '../registry.ts';

export interface RequestLimits {
  readonly maxAgentsPerRequest: number;
  readonly maxVectorLength: number;
  /** Distinct (agent_type, model) keys in one request. */
  readonly maxKeysPerRequest: number;
}

const maxDetails = 50;

export function createSchemas(limits: RequestLimits) {
  const AgentRequest = z
    .object({
      vector: z
        .array(z.number({error: 'must be a finite number'}))
        .min(1, 'must hold at least 1 number')
        .max(limits.maxVectorLength, `must hold at most ${limits.maxVectorLength} numbers`),
      model: Name,
      agent_type: Name,
    })
    .meta({
      description: 'One agent: its input vector, the model to run and its agent type. Other fields are ignored.',
      examples: [{vector: [0.5, -1.25, 3.0], model: 'resnet-50', agent_type: 'scout'}],
    });

  const AgentId = z.string().min(1, 'agent id must not be empty').max(256, 'agent id must be at most 256 characters');

  const PredictRequest = z
    .object({
      agents: z.record(AgentId, AgentRequest).meta({
        description: `1 to ${limits.maxAgentsPerRequest} agents by id`,
        minProperties: 1,
        maxProperties: limits.maxAgentsPerRequest,
      }),
    })
    .meta({description: 'Agent requests to batch with those of other clients. Other top-level fields are ignored.'});

  const Batch = z.object({
    id: z.string().meta({description: 'the same for every agent that travelled in one backend call'}),
    size: z.number().int().meta({description: "the backend call's row count"}),
  });

  const AgentResult = z.union([
    z.object({prediction: z.number(), batch: Batch}),
    z.object({
      error: z.object({code: z.enum(agentErrorCodes), message: z.string()}),
      batch: Batch.optional(),
    }),
  ]);

  const PredictResponse = z.object({
    request_id: z.string(),
    errors: z.boolean().meta({description: 'true when any agent has an error'}),
    results: z.record(z.string(), AgentResult),
  });

  const ErrorResponse = z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({path: z.string(), message: z.string()})).optional(),
    }),
  });

  return {AgentRequest, AgentId, PredictRequest, PredictResponse, AgentResult, ErrorResponse};
}

export type Schemas = ReturnType<typeof createSchemas>;
export type PredictResponse = z.infer<Schemas['PredictResponse']>;
export type AgentResult = z.infer<Schemas['AgentResult']>;

export type ParseResult = {ok: true; agents: AgentInput[]} | {ok: false; details: ErrorDetail[]};

/** With a registry: the model must be listed, the agent type allowed, the vector of its length. */
function servedProblem(
  models: ReadonlyMap<string, ModelEntry>,
  id: string,
  model: string,
  agentType: string,
  length: number,
): ErrorDetail | undefined {
  const entry = models.get(model);
  if (!entry)
    return {
      path: `agents.${id}.model`,
      message: `model ${JSON.stringify(model)} is not served (GET /models lists them)`,
    };
  if (entry.agentTypes && !entry.agentTypes.includes(agentType)) {
    return {
      path: `agents.${id}.agent_type`,
      message: `model ${JSON.stringify(model)} serves agent types ${entry.agentTypes.join(', ')}`,
    };
  }
  if (entry.vectorLength !== undefined && length !== entry.vectorLength) {
    return {
      path: `agents.${id}.vector`,
      message: `model ${JSON.stringify(model)} takes vectors of exactly ${entry.vectorLength} numbers (got ${length})`,
    };
  }
  return undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates a parsed body. The agents map is walked here rather than by z.record, so that the
 * count limit is checked before any agent is, and so that every own key counts as an agent id
 * (z.record drops a "__proto__" key, which would lose an agent).
 */
export function parsePredictRequest(
  body: unknown,
  schemas: Schemas,
  limits: RequestLimits,
  registry?: Registry,
): ParseResult {
  if (!isPlainObject(body)) return {ok: false, details: [{path: '', message: 'body must be a JSON object'}]};
  const agents = body.agents;
  if (!isPlainObject(agents)) {
    return {ok: false, details: [{path: 'agents', message: 'must be an object mapping agent ids to agents'}]};
  }
  const ids = Object.keys(agents);
  if (ids.length === 0) return {ok: false, details: [{path: 'agents', message: 'must hold at least 1 agent'}]};
  if (ids.length > limits.maxAgentsPerRequest) {
    return {
      ok: false,
      details: [
        {
          path: 'agents',
          message: `must hold at most ${limits.maxAgentsPerRequest} agents (MAX_AGENTS_PER_REQUEST; got ${ids.length})`,
        },
      ],
    };
  }
  const details: ErrorDetail[] = [];
  const out: AgentInput[] = [];
  for (const id of ids) {
    const idCheck = schemas.AgentId.safeParse(id);
    if (!idCheck.success) details.push({path: `agents.${id}`, message: idCheck.error.issues[0].message});
    const agent = schemas.AgentRequest.safeParse(agents[id]);
    if (!agent.success) {
      for (const issue of agent.error.issues) {
        details.push({path: ['agents', id, ...issue.path].join('.'), message: issue.message});
      }
    } else {
      const {vector, model, agent_type: agentType} = agent.data;
      const unserved = registry?.models && servedProblem(registry.models, id, model, agentType, vector.length);
      if (unserved) details.push(unserved);
      else if (details.length === 0) out.push({id, vector, model, agentType});
    }
    if (details.length >= maxDetails) break;
  }
  if (details.length > 0) return {ok: false, details: details.slice(0, maxDetails)};
  // One request may not open (or occupy) more mailboxes than this: each key costs a backend call.
  const keys = new Set<string>();
  for (const a of out) keys.add(keyString(a.agentType, a.model));
  if (keys.size > limits.maxKeysPerRequest) {
    return {
      ok: false,
      details: [
        {
          path: 'agents',
          message: `must use at most ${limits.maxKeysPerRequest} distinct (agent_type, model) keys (MAX_KEYS_PER_REQUEST; got ${keys.size})`,
        },
      ],
    };
  }
  return {ok: true, agents: out};
}
