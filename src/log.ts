// The root pino logger. Everything else logs through `.child()` with its own bindings
// (requestId for a request, agentType/model for an actor), never through a second root.

import pino from 'pino';
import type {Logger, Level, DestinationStream} from 'pino';

export type {Logger};

export function createLogger(level: Level | 'silent', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: {service: 'agent-batcher'},
      // Keys never reach a log line, whatever logs a request's headers.
      redact: {paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]'},
    },
    destination,
  );
}
