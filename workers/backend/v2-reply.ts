// An Open Inference Protocol inference response read back into one value per row (v2.ts): the
// named output, of shape [rows] or [rows, 1], its data flat or nested ("Tensor Data"), as JSON or
// as Triton's binary tensor data (src/protocol/v2-binary.ts).
//
// - The output's datatype must be FP32 or FP64, in JSON as in binary. Anything else (INT64, BOOL,
//   BYTES, FP16, none) fails the batch with `backend_error` naming the model, the output and the
//   datatype: an integer or a half float read as a float would be a wrong answer, not an error.
//   (FP16 is refused rather than decoded: no metadata this gateway accepts declares it.)
// - The reply is measured before it is parsed (json-wire.ts): deeper than 32 levels or more values
//   than 64 per row (+65,536) is `backend_bad_response`. Every value of the reply shown in a message
//   is shown briefly (`brief`), never stringified whole, and so is the output's name (it may come from
//   the server's metadata). What is quoted may still hold an echo of the credentials: the client
//   cuts them out of every error it throws (http-client.ts).

import {BackendError} from './backend.ts';
import type {WireReply} from './wire-protocol.ts';
import {brief, parseJsonReply, replyBounds} from './json-wire.ts';
import {
  binaryDataSize,
  binarySlices,
  elementBytes,
  floatsFromBytes,
  headerLengthHeader,
  splitBody,
} from '../../src/protocol/v2-binary.ts';

/**
 * One value per row from an inference response (JSON, or JSON + binary tensors): the output
 * named `output`, of shape [rows] or [rows, 1]. Throws BackendError whose message starts with
 * `label` (`backend_bad_response` for a reply it cannot read, `backend_error` for an output of
 * another datatype), or FramingError for a binary body whose sizes do not add up.
 */
export function decodeInferReply(
  reply: WireReply,
  output: string,
  rows: number,
  id: string,
  label: string,
): ArrayLike<unknown> {
  const split = splitBody(reply.body, reply.headers[headerLengthHeader]);
  const response = parseJsonReply(split ? split.json : reply.body, `${label}: reply`, replyBounds(rows)) as {
    id?: unknown;
    outputs?: unknown;
  } | null;
  const bad = (why: string) => new BackendError('backend_bad_response', `${label}: reply ${why}`);
  if (!Array.isArray(response?.outputs)) throw bad('has no "outputs" list');
  if (response.id !== undefined && response.id !== id)
    throw bad(`answers request ${brief(response.id)}, not ${JSON.stringify(id)}`);
  const outputs: unknown[] = response.outputs;
  const slices = split ? binarySlices(outputs, split.binary) : undefined;
  const index = outputs.findIndex((o) => (o as {name?: unknown} | null)?.name === output);
  if (index < 0) throw bad(`has no output ${brief(output)}`);
  const tensor = outputs[index] as {shape?: unknown; datatype?: unknown; data?: unknown};
  const shape = tensor.shape;
  const shaped =
    Array.isArray(shape) && shape[0] === rows && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));
  if (!shaped) throw bad(`output ${brief(output)} has shape ${brief(shape)}; expected [${rows}] or [${rows}, 1]`);
  const datatype = tensor.datatype;
  if (datatype !== 'FP32' && datatype !== 'FP64') {
    throw new BackendError(
      'backend_error',
      `${label}: output ${brief(output)} has datatype ${brief(datatype, 16)}; this gateway reads FP32 or FP64 outputs only`,
    );
  }
  const bytes = slices?.get(index);
  if (bytes !== undefined || binaryDataSize(tensor) !== undefined) {
    if (bytes?.length !== rows * elementBytes[datatype])
      throw bad(`output ${brief(output)} has ${bytes?.length ?? 0} bytes for ${rows} ${datatype} values`);
    return floatsFromBytes(bytes, datatype);
  }
  if (!Array.isArray(tensor.data)) throw bad(`output ${brief(output)} has no "data"`);
  // Tensor data may be flat or in its natural nested form ("Tensor Data"): [[p], [q]] is [p, q].
  return tensor.data.map((v: unknown) => (Array.isArray(v) && v.length === 1 ? v[0] : v));
}
