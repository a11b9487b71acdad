// Starts the real service in-process (real worker threads, real HTTP on loopback) with a short
// simulated latency, and gives tests a small client for it.

import {Agent, request} from 'undici';
import {loadConfig} from '../../src/config.ts';
import {createLogger} from '../../src/log.ts';
import {Service} from '../../src/service/service.ts';
import type {Logger} from '../../src/log.ts';

export interface Running {
  readonly url: string;
  readonly service: Service;
  close(): Promise<void>;
}

export const testEnv: Record<string, string> = {
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  PORT: '0',
  ACTOR_POOL_SIZE: '2',
  BACKEND_LATENCY_MIN_MS: '50',
  BACKEND_LATENCY_MAX_MS: '150',
  SHUTDOWN_TIMEOUT_MS: '2000',
};

export async function startService(env: Record<string, string> = {}, log?: Logger): Promise<Running> {
  const config = loadConfig({...testEnv, ...env});
  const service = new Service(config, log ?? createLogger('silent'));
  const address = await service.start();
  return {
    url: `http://127.0.0.1:${address.port}`,
    service,
    close: () => service.shutdown(),
  };
}

/** Waits (up to about 2.5 s) until the service holds `n` parts: admitted, not yet answered for. */
export async function held(running: Running, n: number): Promise<void> {
  for (let i = 0; i < 500 && running.service.coordinator.stats.liveParts < n; i++)
    await new Promise((r) => setTimeout(r, 5));
}

export interface Reply<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...headers},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined};
}

const fromAddress = new Map<string, Agent>();

/**
 * POSTs from a source address of its own (a loopback address, 127.0.0.2 and up, as another
 * client): the service tells clients without API keys apart by address.
 */
export async function postFrom(
  localAddress: string,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  let dispatcher = fromAddress.get(localAddress);
  if (!dispatcher) fromAddress.set(localAddress, (dispatcher = new Agent({localAddress})));
  const response = await request(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...headers},
    body: JSON.stringify(body),
    dispatcher,
  });
  const text = await response.body.text();
  const flat = new Headers();
  for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') flat.set(name, value);
  return {status: response.statusCode, headers: flat, body: text ? JSON.parse(text) : undefined};
}

export interface AgentSpec {
  vector: number[];
  model: string;
  agent_type: string;
}

export function randomVector(length: number, random = Math.random): number[] {
  return Array.from({length}, () => Math.round((random() * 20 - 10) * 1000) / 1000);
}
