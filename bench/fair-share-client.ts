// The fair-share bench's client side (bench/fair-share.ts): the service under test started as
// shipped in a process of its own, one request sent on a client's connection (undici, bound to the
// client's source address), and its predictions checked against the formula.

import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import type {Client} from 'undici';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {shippedNodeArgs} from './server-specs.ts';

/** The service of checkout `root` as shipped, in its own process on a free port, one actor thread. */
export async function start(root: string, env: Record<string, string>): Promise<{url: string; child: ChildProcess}> {
  const port = await freePort();
  const child = spawn(process.execPath, [...shippedNodeArgs, 'src/main.ts'], {
    cwd: root,
    env: {...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent', ACTOR_POOL_SIZE: '1', ...env},
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}/readyz`, {child});
  return {url, child};
}

export interface Answer {
  status: number;
  retryAfter: number;
  body: {results?: Record<string, {prediction?: number}>; error?: {message: string}};
}

/** One request of `agents` on the client's connection (with its API key, if it has one). */
export async function send(
  client: Client,
  agents: Record<string, {vector: number[]; model: string; agent_type: string}>,
  apiKey?: string,
): Promise<Answer> {
  const response = await client.request({
    path: '/predict',
    method: 'POST',
    headers: {'content-type': 'application/json', ...(apiKey ? {authorization: `Bearer ${apiKey}`} : {})},
    body: JSON.stringify({agents}),
  });
  const body = (await response.body.json()) as Answer['body'];
  return {status: response.statusCode, retryAfter: Number(response.headers['retry-after'] ?? 0), body};
}

/** Every prediction of a 200 is the formula's for its own agent. */
export function wrongIn(
  answer: Answer,
  agents: Record<string, {vector: number[]; model: string; agent_type: string}>,
): number {
  let wrong = 0;
  for (const [id, a] of Object.entries(agents))
    if (answer.body.results?.[id]?.prediction !== predictRow(bias(a.model, a.agent_type), a.vector)) wrong++;
  return wrong;
}
