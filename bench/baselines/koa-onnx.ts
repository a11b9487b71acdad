// Baseline (ii) of the real-model bench: what a Node user writes first. Koa + koa-bodyparser + the
// service's own zod validation, and one `session.run` per request, inline in the main thread, with
// that request's rows as the batch: no batching across clients, no threads. MODEL_PATH is the .onnx.

import * as ort from 'onnxruntime-node';
import {loadConfig} from '../../src/config.ts';
import {serveKoaFront} from './koa-front.ts';

const session = await ort.InferenceSession.create(process.env.MODEL_PATH as string, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
});
const [input] = session.inputMetadata as unknown as {name: string; shape: (number | string)[]}[];
const d = input.shape[1] as number;

serveKoaFront(loadConfig({}), async (agents) => {
  const data = new Float32Array(agents.length * d);
  for (let i = 0; i < agents.length; i++) data.set(agents[i].vector, i * d);
  const out = await session.run({[input.name]: new ort.Tensor('float32', data, [agents.length, d])});
  const values = out[session.outputNames[0]].data as Float32Array;
  return agents.map((_, i) => ({prediction: values[i]}));
});
