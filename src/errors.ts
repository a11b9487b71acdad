// Errors with a stable `code`. Those that reach HTTP carry `status` and `expose`, as in Koa:
// an exposed error's message goes to the client, any other answers `internal_error`.

/** Per-agent error codes of DESIGN §3. */
export const agentErrorCodes = [
  'deadline_exceeded',
  'backend_error',
  'backend_bad_response',
  'backend_rejected',
  'worker_failed',
  'shutting_down',
] as const;
export type AgentErrorCode = (typeof agentErrorCodes)[number];

export interface AgentError {
  readonly code: AgentErrorCode;
  readonly message: string;
}

export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/** A request-level error: nothing of the request was dispatched. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly expose = true;
  readonly details: readonly ErrorDetail[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: {details?: readonly ErrorDetail[]; headers?: Record<string, string>} = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = extra.details;
    this.headers = extra.headers ?? {};
  }
}

export const Errors = {
  invalidJson: (message = 'request body is not valid JSON') => new HttpError(400, 'invalid_json', message),
  unauthorized: () =>
    new HttpError(401, 'unauthorized', 'a valid bearer token is required', {
      headers: {'WWW-Authenticate': 'Bearer realm="agent-batcher"'},
    }),
  notFound: () => new HttpError(404, 'not_found', 'no such route'),
  /** The router has already set the Allow header. */
  methodNotAllowed: () => new HttpError(405, 'method_not_allowed', 'method not allowed; see the Allow header'),
  payloadTooLarge: (limit: number) =>
    new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`),
  unsupportedMediaType: () => new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json'),
  validation: (details: readonly ErrorDetail[]) =>
    new HttpError(422, 'validation_error', 'request does not match the schema', {details}),
  overloaded: (reason: string, retryAfterSeconds: number) =>
    new HttpError(503, 'overloaded', `admission refused: ${reason}`, {
      headers: {'Retry-After': String(retryAfterSeconds)},
    }),
  notReady: (why: string) => new HttpError(503, 'not_ready', why, {headers: {'Retry-After': '1'}}),
};
