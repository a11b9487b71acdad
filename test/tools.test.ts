// The tools a newcomer runs first, each failing in one line: npm run predict / load and
// examples/client.py when the service serves nothing they can check, client.py's --help and
// --key, npm run load saying what the service answered, and npm run model's arguments.

import {execFile} from 'node:child_process';
import {existsSync, mkdtempSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {scenarioIds} from '../bench/scenarios.ts';
import {modelsFile} from './helpers/models-file.ts';
import {needPart} from './helpers/parts.ts';
import {startService} from './helpers/service.ts';

const root = new URL('../', import.meta.url);
const run = promisify(execFile);

/** A command's exit code and output, whatever the code. */
async function command(file: string, args: string[], env: Record<string, string> = {}) {
  try {
    const {stdout, stderr} = await run(file, args, {cwd: root, env: {...process.env, ...env}, timeout: 30_000});
    return {code: 0, stdout, stderr};
  } catch (error) {
    const e = error as {code: number; stdout: string; stderr: string};
    return {code: e.code, stdout: e.stdout, stderr: e.stderr};
  }
}

const node = (script: string, args: string[]) => command(process.execPath, [script, ...args]);

test('with only models the tools cannot check (v2, tfserving), predict, load and client.py each say so in one line', async (t) => {
  const file = await modelsFile({
    models: {
      triton: {backend: {kind: 'v2', url: 'http://127.0.0.1:9', model: 'net'}},
      tfs: {backend: {kind: 'tfserving', url: 'http://127.0.0.1:9', model: 'net'}},
    },
  });
  const running = await startService({MODELS_FILE: file});
  t.teardown(() => running.close());
  const nothing = `nothing to send: every model ${running.url} serves (triton, tfs) is onnx, v2 or tfserving, whose answers this tool cannot check; start the service without MODELS_FILE, or with a registry that has a simulated or http model\n`;
  const predict = await node('scripts/predict.ts', ['--url', running.url]);
  t.is(predict.code, 1);
  t.is(predict.stderr, `predict: ${nothing}`);
  const load = await node('scripts/load.ts', ['--url', running.url, '--duration', '1']);
  t.is(load.code, 1);
  t.is(load.stderr, `load: ${nothing}`);
  if (!needPart(t, 'python3')) return;
  const client = await command('python3', ['examples/client.py', '--url', running.url]);
  t.is(client.code, 2);
  t.regex(client.stderr, /^client\.py: nothing to send: every model .* is onnx, v2 or tfserving[^\n]*\n$/);
});

test('examples/client.py --help lists every option; --key reaches a service with API_KEYS, exact; without it one line per refusal', async (t) => {
  if (!needPart(t, 'python3')) return;
  const help = await command('python3', ['examples/client.py', '--help']);
  t.is(help.code, 0);
  for (const option of ['--url', '--clients', '--agents', '--key', '--seed'])
    t.true(help.stdout.includes(option), option);
  const running = await startService({API_KEYS: 'k-one,k-two'});
  t.teardown(() => running.close());
  const served = await command('python3', [
    'examples/client.py',
    '--url',
    running.url,
    '--clients',
    '6',
    '--key',
    'k-two',
  ]);
  t.is(served.code, 0, served.stderr);
  t.regex(served.stdout, /^6 clients, 24 agents, \d+ backend calls, 0 wrong predictions\n$/);
  const refused = await command('python3', ['examples/client.py', '--url', running.url, '--clients', '6']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^client\.py: 6 of 6 requests got HTTP 401: \{"error":\{"code":"unauthorized"[^\n]*\n$/);
});

test('npm run load prints the error body the service answered, not only the status', async (t) => {
  const running = await startService({API_KEYS: 'k-one'});
  t.teardown(() => running.close());
  const load = await node('scripts/load.ts', ['--url', running.url, '--duration', '1', '--clients', '2']);
  t.is(load.code, 1);
  t.regex(load.stdout, /\n {2}first 401: \{"error":\{"code":"unauthorized","message":"[^"]+"\}\}\n/);
});

test('npm run model: --help, and one line with exit code 2 for each bad argument; a good one writes the file', async (t) => {
  const help = await node('scripts/make-model.ts', ['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^npm run model -- \[OUT\] \[D,H1,\.\.\.,1\]\n/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-batcher-model-'));
  const out = path.join(dir, 'm.onnx');
  const cases: [string[], RegExp][] = [
    [['--size', '3'], /^model: unknown option "--size" \(see --help\)\n$/],
    [[out, '4,8', 'x'], /^model: at most two arguments/],
    [[dir, '4,1'], /^model: OUT must be a file to write, but .* is a folder/],
    [[out, '4,8'], /^model: layer sizes must be D,H1,\.\.\.,1: the last size must be 1/],
    [[out, '4,x,1'], /^model: layer sizes must be D,H1,\.\.\.,1: whole numbers from 1 to 65536 \(got "4,x,1"/],
    [[out, '4'], /^model: layer sizes must be D,H1,\.\.\.,1: at least two sizes/],
    [[out, '60000,60000,1'], /^model: layer sizes must be D,H1,\.\.\.,1: at most 50000000 weights in all/],
  ];
  for (const [args, pattern] of cases) {
    const bad = await node('scripts/make-model.ts', args);
    t.is(bad.code, 2, args.join(' '));
    t.regex(bad.stderr, pattern);
    t.is(bad.stderr.split('\n').length, 2, 'one line');
  }
  t.false(existsSync(out));
  const good = await node('scripts/make-model.ts', [out, '4,8,1']);
  t.is(good.code, 0);
  t.is(good.stdout, `wrote ${out}: MLP 4 -> 8 -> 1 (ReLU, float32, seed 20)\n`);
  t.true(existsSync(out));
});

test('npm run bench -- --help names every scenario, real-model and the protocols bench', async (t) => {
  const help = await command(process.execPath, ['bench/run.ts', '--help']);
  t.is(help.code, 0);
  for (const id of [...scenarioIds(), 'real-model', 'bench/protocols.ts']) t.true(help.stdout.includes(id), id);
});
