// Before the service turns ready, and before a SIGHUP counts as done: every actor thread of this
// process has opened every onnx model of the registry, so that the session serving is the file
// that was checked and no request pays for opening it. Asked of the threads (ThreadStats.warmed)
// until they all say so, within a bound.

import type {Logger} from 'pino';
import type {Registry} from '../registry.ts';
import type {ActorPool} from '../threads/pool.ts';
import {backendId} from '../../workers/backend/create.ts';

/** How long start and SIGHUP wait for the threads to open the onnx models (then they go on, with a warning). */
const sessionsOpenTimeoutMs = 60_000;
const pollMs = 20;

export async function modelsOpen(pool: ActorPool, registry: Registry, statsTimeoutMs: number, log: Logger) {
  const wanted = [...(registry.models?.values() ?? [])]
    .filter((m) => m.backend.kind === 'onnx')
    .map((m) => backendId(m.backend));
  if (wanted.length === 0) return;
  const until = Date.now() + sessionsOpenTimeoutMs;
  while (Date.now() < until) {
    const threads = await pool.stats(statsTimeoutMs).catch(() => []);
    if (threads.length > 0 && threads.every((t) => wanted.every((id) => t.warmed?.includes(id)))) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  log.warn({models: wanted}, 'actor threads are still opening onnx models; going on');
}
