// GET /openapi.json: the OpenAPI 3.1 description, generated from the same zod schemas that
// validate requests (zod 4's JSON Schema export, draft 2020-12, which OpenAPI 3.1 uses).

import {z} from 'zod';
import {refusalMessages} from '../coordinator/admission.ts';
import {Errors} from '../errors.ts';
import type {Schemas} from './schemas.ts';

export const predictExample = {
  agents: {
    'scout-1': {vector: [0.5, -1.25, 3.0], model: 'resnet-50', agent_type: 'scout'},
    'pilot-7': {vector: [1.0, 2.0], model: 'gpt-mini', agent_type: 'pilot'},
  },
};

const responseExample = {
  request_id: '6f1c2a9e-0d4b-4c1e-9a57-3b2f8d1e7c40',
  errors: true,
  results: {
    'scout-1': {prediction: 7.451826160307974, batch: {id: 'b-1-17', size: 32}},
    'pilot-7': {error: {code: 'deadline_exceeded', message: 'no backend answer within 30000 ms'}},
  },
};

const streamExample = [
  JSON.stringify({id: 'scout-1', prediction: 7.451826160307974, batch: {id: 'b-1-17', size: 32}}),
  JSON.stringify({id: 'pilot-7', error: {code: 'deadline_exceeded', message: 'no backend answer within 30000 ms'}}),
  JSON.stringify({request_id: responseExample.request_id, errors: true, done: true}),
].join('\n');

/** The documented error bodies are the ones the service sends: built by the same factories. */
const errorExamples: Record<string, {code: string; message: string; details?: unknown}> = Object.fromEntries(
  [
    Errors.invalidJson(),
    Errors.unauthorized(),
    Errors.payloadTooLarge(1_048_576),
    Errors.unsupportedMediaType(),
    Errors.validation([{path: 'agents.scout-1.vector.3', message: 'must be a finite number'}]),
    Errors.overloaded(refusalMessages.mailbox_full, 2),
  ].map((e) => [String(e.status), {code: e.code, message: e.message, ...(e.details && {details: e.details})}]),
);

const errorWhen: Record<string, string> = {
  '400': 'The body is not JSON (`invalid_json`).',
  '401': 'API keys are configured and no valid bearer token came (`unauthorized`).',
  '413': 'The body is larger than MAX_BODY_BYTES (`payload_too_large`).',
  '415': 'The body is not `application/json` (`unsupported_media_type`).',
  '422': 'The body breaks the schema or a limit (`validation_error`); `details` lists each bad field by path.',
  '503':
    'Admission refused whole (`overloaded`, with Retry-After) or the service is starting or draining (`not_ready`).',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const {$schema: _ignored, ...rest} = z.toJSONSchema(schema, {io, unrepresentable: 'any'}) as Record<string, unknown>;
  return rest;
}

export function openApiDocument(schemas: Schemas, options: {version: string; secured: boolean}): object {
  const ref = (name: string) => ({$ref: `#/components/schemas/${name}`});
  const errorResponse = (status: string) => ({
    description: errorWhen[status],
    content: {'application/json': {schema: ref('ErrorResponse'), example: {error: errorExamples[status]}}},
  });
  const requestId = {
    'X-Request-Id': {
      description: 'Echoed, or generated when absent or not 1..128 of [A-Za-z0-9._-]',
      schema: {type: 'string'},
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'agent-batcher',
      version: options.version,
      description:
        'Batches agent requests of many clients per (agent_type, model) into one backend call each, and answers every client with exactly its own results.',
    },
    paths: {
      '/predict': {
        post: {
          operationId: 'predict',
          summary: 'Predict for a map of agents, batched with other clients',
          ...(options.secured && {security: [{bearer: []}]}),
          parameters: [
            {
              name: 'X-Request-Id',
              in: 'header',
              required: false,
              schema: {type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._-]+$'},
            },
            {
              name: 'X-Request-Timeout-Ms',
              in: 'header',
              required: false,
              description: 'Lowers the request deadline (REQUEST_TIMEOUT_MS); it cannot raise it.',
              schema: {type: 'integer', minimum: 1},
            },
          ],
          requestBody: {
            required: true,
            content: {'application/json': {schema: ref('PredictRequest'), example: predictExample}},
          },
          responses: {
            '200': {
              description:
                'At least one agent has a prediction. Every agent id appears once, with a prediction or an error. With `Accept: application/x-ndjson` the 200 is sent at admission, then one JSON line per agent as soon as its outcome is known (`{"id", "prediction", "batch"}` or `{"id", "error", "batch"?}`), then `{"request_id", "errors", "done": true}`.',
              headers: requestId,
              content: {
                'application/json': {schema: ref('PredictResponse'), example: responseExample},
                'application/x-ndjson': {
                  schema: {type: 'string'},
                  example: streamExample,
                },
              },
            },
            '400': errorResponse('400'),
            ...(options.secured && {'401': errorResponse('401')}),
            '413': errorResponse('413'),
            '415': errorResponse('415'),
            '422': errorResponse('422'),
            '502': {
              description: 'No agent succeeded and not every failure is deadline_exceeded (same body as 200).',
              content: {'application/json': {schema: ref('PredictResponse')}},
            },
            '503': errorResponse('503'),
            '504': {
              description: 'No agent succeeded and every failure is deadline_exceeded (same body as 200).',
              content: {'application/json': {schema: ref('PredictResponse')}},
            },
          },
        },
      },
      '/healthz': {
        get: {operationId: 'healthz', summary: 'Liveness', responses: {'200': {description: 'The process is up'}}},
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness',
          responses: {'200': {description: 'Accepting requests'}, '503': {description: 'Starting or draining'}},
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: {
            '200': {description: 'Prometheus text format', content: {'text/plain': {schema: {type: 'string'}}}},
          },
        },
      },
      '/models': {
        get: {
          operationId: 'models',
          summary:
            "The served models, their effective settings (MODELS_FILE), each onnx model's input and output, each v2 or TF Serving backend's URL and names, and each key's fitted cost; no credentials",
          responses: {
            '200': {
              description: '`any_model` is true without a registry; `defaults` are the global settings',
              content: {'application/json': {schema: {type: 'object'}}},
            },
          },
        },
      },
      '/openapi.json': {
        get: {operationId: 'openapi', summary: 'This document', responses: {'200': {description: 'OpenAPI 3.1'}}},
      },
    },
    components: {
      schemas: {
        PredictRequest: jsonSchema(schemas.PredictRequest, 'input'),
        PredictResponse: jsonSchema(schemas.PredictResponse, 'output'),
        ErrorResponse: jsonSchema(schemas.ErrorResponse, 'output'),
      },
      ...(options.secured && {securitySchemes: {bearer: {type: 'http', scheme: 'bearer'}}}),
    },
  };
}
