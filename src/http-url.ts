// An http(s) URL as every setting that names a backend accepts it: BACKEND_URL (env-schema.ts), a
// registry's `backend_url` and `{"kind": "http", "url"}` (registry.ts), a model server's base URL
// (model-servers.ts). Its `user:password@` must decode (redact.ts, credentialsDecode): the client
// sends them as a Basic header, and no thread may meet a URL it cannot use.

import {z} from 'zod';
import {credentialsDecode, credentialsMessage} from './redact.ts';

/** The schema, with `accepts` as the message for a value that is not an http(s) URL. */
export function httpUrl(accepts = 'an http:// or https:// URL') {
  return z.url({protocol: /^https?$/, error: accepts}).refine(credentialsDecode, credentialsMessage);
}
