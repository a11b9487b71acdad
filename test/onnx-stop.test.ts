// Stopping threads that run an ONNX model. worker.terminate() landing inside ONNX Runtime's
// synchronous run aborts the whole process (`terminate called after throwing an instance of
// 'Napi::Error'`, exit 134): the pool asks each thread to stop instead, the thread lets its run
// finish, releases its sessions and exits by itself (src/threads/pooled-thread.ts, stopInstance).
// Each test keeps the model's threads busy with runs back to back while it stops them; normal
// clients beside it get the MLP's value or a stated error, never a wrong number.

import test from 'ava';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import path from 'node:path';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {closeTo, mlp, mlpPredict, row, tempDir, writeMlp, writeRegistry} from './helpers/onnx-models.ts';
import type {Mlp} from './helpers/onnx-models.ts';
import {held, post, startService, testEnv} from './helpers/service.ts';

/** Clients posting `agents` rows each, back to back, until stop(); each reply checked against the MLP. */
function load(url: string, m: Mlp, clients: number, agents: number) {
  let stopped = false;
  let answered = 0;
  const wrong: string[] = [];
  const codes = new Set<string>();
  const loops = Array.from({length: clients}, async (_, c) => {
    while (!stopped) {
      const vectors = Array.from({length: agents}, () => row(8));
      const reply = await post(`${url}/predict`, {
        agents: Object.fromEntries(vectors.map((v, i) => [`a${i}`, {vector: v, model: 'value', agent_type: 'scout'}])),
      }).catch((error: unknown) => ({status: 0, body: {error: String(error)}}));
      // A connection refused once the server has closed: the client stops.
      if (reply.status === 0) return;
      // A request refused whole while the service drains (503 not_ready): a stated error, no agent answered.
      if (reply.body?.error && !reply.body.results) {
        codes.add(reply.body.error.code);
        continue;
      }
      vectors.forEach((v, i) => {
        const result = reply.body?.results?.[`a${i}`];
        // A batch cut after its thread was told to stop meets a closed session: refused, never run on it.
        if (result?.error)
          codes.add(
            result.error.code === 'backend_error' && /session is closed/.test(result.error.message)
              ? 'backend_error (session closed)'
              : result.error.code,
          );
        else if (closeTo(result?.prediction, mlpPredict(m, v))) answered++;
        else wrong.push(`client ${c} a${i}: ${reply.status} ${JSON.stringify(result ?? reply.body)}`);
      });
    }
  });
  return {
    get answered() {
      return answered;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return {answered, wrong, codes: [...codes].sort()};
    },
  };
}

/** A registry of one wide MLP (each run of a full batch takes the thread for milliseconds). */
async function wideModel(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const m = writeMlp(path.join(dir, 'value.onnx'), mlp([8, 1024, 1024, 1], 'float32', 21));
  const file = await writeRegistry(dir, {value: {backend: {kind: 'onnx', path: 'value.onnx'}, max_batch_size: 64}});
  return {m, file};
}

test.serial(
  'closing the pool while its threads run the model back to back: each thread finishes its run, releases its session and exits 0 by itself; the process lives and no answer is wrong',
  async (t) => {
    const {m, file} = await wideModel(t);
    const running = await startService({MODELS_FILE: file, ACTOR_POOL_SIZE: '2'});
    t.teardown(() => running.close());
    const traffic = load(running.url, m, 12, 16);
    await held(running, 64);
    while (traffic.answered < 64) await new Promise((r) => setTimeout(r, 5));
    const pool = running.service.pool;
    const exits = [0, 1].map((i) => once(pool.workerOf(i)!, 'exit'));
    await pool.close();
    t.deepEqual(
      (await Promise.all(exits)).map(([code]) => code),
      [0, 0],
      'each thread exited by itself (terminate() would give 1, or abort the process)',
    );
    await running.close();
    const {answered, wrong, codes} = await traffic.stop();
    t.deepEqual(wrong, []);
    t.true(answered >= 64);
    t.true(
      codes.every((code) =>
        ['shutting_down', 'not_ready', 'worker_failed', 'deadline_exceeded', 'backend_error (session closed)'].includes(
          code,
        ),
      ),
      codes.join(),
    );
  },
);

test.serial(
  'SIGTERM to the process while its onnx model is under load: exit code 0, no abort, and every answer before it exact',
  async (t) => {
    const {m, file} = await wideModel(t);
    const port = await freePort();
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {...process.env, ...testEnv, PORT: String(port), MODELS_FILE: file, LOG_LEVEL: 'warn'},
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    t.teardown(() => child.kill('SIGKILL'));
    const exited = once(child, 'exit');
    const url = `http://127.0.0.1:${port}`;
    await waitUntilUp(`${url}/readyz`, {child, timeoutMs: 60_000, describe: () => stderr});
    const traffic = load(url, m, 12, 16);
    while (traffic.answered < 256) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    t.deepEqual(await exited, [0, null], stderr);
    t.notRegex(stderr, /Napi|Aborted|terminate called/);
    const {answered, wrong, codes} = await traffic.stop();
    t.deepEqual(wrong, []);
    t.true(answered >= 256);
    t.true(
      codes.every((code) => ['shutting_down', 'not_ready'].includes(code)),
      codes.join(),
    );
  },
);
