// Reading the body of POST /predict: koa-bodyparser with its failures turned into the contract's
// errors, and the raw bytes kept beside it so that the body is checked to be UTF-8 (the parser
// would replace a bad byte silently).

import {isUtf8} from 'node:buffer';
import type {Context} from 'koa';
import bodyParser from 'koa-bodyparser';
import {Errors, HttpError} from '../errors.ts';
import type {FrontContext} from './front.ts';

/** Reads and parses the body into ctx.request.body (throws HttpErrors). */
export function bodyReader(maxBodyBytes: number): (ctx: Context) => Promise<unknown> {
  const parse = bodyParser({
    enableTypes: ['json'],
    jsonLimit: String(maxBodyBytes),
    // Any JSON value is parsed (`null`, `3`, `[]` are JSON): the schema answers them with 422.
    strict: false,
    // A "__proto__" agent id is valid JSON and a valid id: keep it as an own key (it is only
    // ever read with Object.keys and written with Object.fromEntries) instead of refusing it.
    ...{onProtoPoisoning: 'ignore'},
    onerror: (error: Error & {status?: number; type?: string}) => {
      throw translateParserError(error, maxBodyBytes);
    },
  });
  return (ctx) => parse(ctx, noop);
}

const noop = async () => {};

/**
 * The body parser decodes UTF-8 leniently (a bad byte becomes U+FFFD, so two different ids could
 * merge): keep the raw chunks beside it, to check the bytes once the body is in. Set just before
 * the body is read: a listener makes the stream flow.
 */
export function keepRawChunks(ctx: FrontContext): void {
  const encoding = ctx.get('content-encoding');
  if (encoding && encoding !== 'identity') return;
  ctx.state.bodyChunks = [];
  // Into the state's list while there is one (an early answer drops it and drains the rest).
  const keep = (chunk: Buffer) => ctx.state.bodyChunks?.push(chunk);
  ctx.req.on('data', keep);
  // Off again once the body is in: the listener must not keep the bytes alive while the
  // request waits seconds for its backend.
  ctx.req.once('end', () => ctx.req.off('data', keep));
}

/** The body read: invalid_json when its bytes are not UTF-8 or it is empty. Drops the raw bytes. */
export function checkBodyBytes(ctx: FrontContext & {request: {rawBody?: string}}): void {
  const chunks = ctx.state.bodyChunks;
  ctx.state.bodyChunks = undefined;
  const validUtf8 = !chunks || isUtf8(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  if (chunks) chunks.length = 0;
  if (!validUtf8) throw Errors.invalidJson('request body is not valid UTF-8');
  if (ctx.request.rawBody === '') throw Errors.invalidJson('request body is empty');
}

function translateParserError(error: Error & {status?: number; type?: string}, limit: number): HttpError {
  if (error.status === 413 || error.type === 'entity.too.large') return Errors.payloadTooLarge(limit);
  if (error.status === 415) return new HttpError(415, 'unsupported_media_type', error.message);
  if (error.type === 'request.aborted') return new HttpError(400, 'invalid_json', 'request body was cut short');
  if (error.status === 400 && error.type === 'request.size.invalid') {
    return new HttpError(400, 'invalid_json', 'request body length does not match Content-Length');
  }
  return Errors.invalidJson();
}
