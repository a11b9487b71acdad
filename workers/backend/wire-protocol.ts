// What a protocol of the HTTP client is (http-client.ts): an encoder and a decoder, and the
// requests and replies they speak in. Ours (http.ts), the Open Inference Protocol (v2.ts) and TF
// Serving (tfserving.ts) each implement WireProtocol; a new protocol is a new pair, never a copy of
// the client.

import type {BackendCall, BackendError} from './backend.ts';

/** One HTTP request, as a protocol writes it. */
export interface WireRequest {
  readonly method: 'GET' | 'POST';
  /** Appended to the client's URL (without its trailing `/`); '' = the URL itself. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/** A 200 reply, read whole (within the cap). */
export interface WireReply {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A 4xx other than 429: the server refused the request. `error` is its `{"error": …}` text, if any (for the log). */
export interface Refusal {
  readonly status: number;
  readonly error: string | undefined;
}

export type Exchange = {readonly kind: 'ok'; readonly reply: WireReply} | ({readonly kind: 'refused'} & Refusal);

/** What a protocol may ask of its client beyond a batch: one request, with the pool, the retries and the cap. */
export interface Exchanger {
  exchange(wire: WireRequest, deadline: number): Promise<Exchange>;
}

/** A protocol: how a batch becomes a request and a reply becomes one value per row. */
export interface WireProtocol {
  /**
   * Runs before each batch is sent (the v2 metadata discovery); throws a BackendError that fails
   * the batch. `client.exchange` gives it the pool, the retries and the cap.
   */
  prepare?(call: BackendCall, client: Exchanger): Promise<void>;
  /** The request for `rows` (the whole batch, or one half while refused rows are isolated); `id` names it. */
  encode(call: BackendCall, rows: readonly Float64Array[], id: string): WireRequest;
  /** One value per row, unchecked (the actor checks them); throws BackendError('backend_bad_response') for a reply it cannot read. */
  decode(reply: WireReply, call: BackendCall, rows: number, id: string): ArrayLike<unknown>;
  /** A refusal that concerns the whole batch (never split): the error to fail it with. */
  wholeBatch?(refusal: Refusal, call: BackendCall): BackendError | undefined;
  /** SIGHUP: forget what was discovered from the server. */
  registryReloaded?(): void;
}
