// The README's examples, run as written, against the service as `npm start` serves it and with
// the example registry (MODELS_FILE=examples/models.json, its HTTP model on `npm run backend`):
// the two curl requests (sent as the README writes them, answers checked against the shown
// ones and the formula), `npm run predict` (also --stream), `npm run load` and the Python client.
// The cheapest guard against the README drifting from the code.

import test from 'ava';
import {execFile, spawn} from 'node:child_process';
import {once} from 'node:events';
import {mkdtemp, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {needPart} from './helpers/parts.ts';
import {startService} from './helpers/service.ts';
import type {Running} from './helpers/service.ts';

const root = new URL('../', import.meta.url);
const readme = await readFile(new URL('README.md', root), 'utf8');
const scripts = JSON.parse(await readFile(new URL('package.json', root), 'utf8')).scripts as Record<string, string>;
const run = promisify(execFile);

/** The fenced blocks of the README section that starts with `heading`. */
function blocks(heading: string): {lang: string; text: string}[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section ${heading}`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({lang: m[1], text: m[2]}));
}

interface Curl {
  headers: Record<string, string>;
  body: string;
  url: string;
  /** What the README shows after the command, in the same block. */
  output: string[];
}

/** A README curl command: its headers, body and URL (shell words, single quotes), and the lines after it. */
function parseCurl(block: string): Curl {
  const words: string[] = [];
  let i = 0;
  let word: string | undefined;
  for (; i < block.length; i++) {
    const c = block[i];
    if (c === "'") {
      const close = block.indexOf("'", i + 1);
      word = (word ?? '') + block.slice(i + 1, close);
      i = close;
    } else if (c === '\\' && block[i + 1] === '\n') {
      i++;
    } else if (c === ' ' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      if (c === '\n') break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  const curl: Curl = {
    headers: {},
    body: '',
    url: '',
    output: block
      .slice(i + 1)
      .split('\n')
      .filter(Boolean),
  };
  for (let w = 1; w < words.length; w++) {
    if (words[w] === '-H') {
      const [name, ...value] = words[++w].split(':');
      curl.headers[name.toLowerCase()] = value.join(':').trim();
    } else if (words[w] === '-d') curl.body = words[++w];
    else if (words[w].startsWith('http')) curl.url = words[w];
  }
  return curl;
}

/** The request a README curl sends, to `base` instead of :8000. */
function send(curl: Curl, base: string): Promise<Response> {
  if (!curl.url.startsWith('http://127.0.0.1:8000/')) throw new Error(`the README's curl goes to ${curl.url}`);
  return fetch(curl.url.replace('http://127.0.0.1:8000', base), {
    method: 'POST',
    headers: curl.headers,
    body: curl.body,
  });
}

interface Agent {
  vector: number[];
  model: string;
  agent_type: string;
}
const expected = (a: Agent) => predictRow(bias(a.model, a.agent_type), a.vector);

/** An npm script as package.json defines it, with this node, from the repository's root. */
async function npmRun(name: string, args: string[], env: Record<string, string> = {}) {
  const [command, ...words] = scripts[name].split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
  if (command !== 'node') throw new Error(`npm run ${name} is not a node command: ${scripts[name]}`);
  return run(process.execPath, [...words, ...args], {cwd: root, env: {...process.env, ...env}, timeout: 60_000});
}

const configurations = [
  {name: 'npm start', registry: false},
  {name: 'MODELS_FILE=examples/models.json npm start', registry: true},
] as const;

/** The service as the README starts it (with its HTTP model's backend, for the registry); stopped after the file. */
async function serve(registry: boolean): Promise<Running> {
  const env: Record<string, string> = {ACTOR_POOL_SIZE: '1'};
  const stops: (() => Promise<unknown>)[] = [];
  if (registry) {
    const port = await freePort();
    const backend = spawn(process.execPath, scripts.backend.split(/\s+/).slice(1), {
      cwd: root,
      env: {
        ...process.env,
        BACKEND_PORT: String(port),
        BACKEND_LATENCY_MIN_MS: '50',
        BACKEND_LATENCY_MAX_MS: '150',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    stops.push(async () => {
      backend.kill();
      if (backend.exitCode === null) await once(backend, 'exit');
    });
    await waitUntilUp(`http://127.0.0.1:${port}/healthz`, {child: backend});
    // The example registry as written, its backend on the port this test could have.
    const file = await readFile(new URL('examples/models.json', root), 'utf8');
    if (!file.includes('"http://127.0.0.1:9000/predict"'))
      throw new Error("the registry's HTTP model is not on `npm run backend`'s default port");
    // Its onnx model as the README makes it: `npm run model` writes it under examples/models/.
    await promisify(execFile)(process.execPath, scripts.model.split(/\s+/).slice(1), {cwd: fileURLToPath(root)});
    const dir = await mkdtemp(path.join(os.tmpdir(), 'agent-batcher-examples-'));
    env.MODELS_FILE = path.join(dir, 'models.json');
    // The copy lives elsewhere: its relative model path is made absolute, to the file just written.
    const model = fileURLToPath(new URL('examples/models/policy-mlp.onnx', root));
    if (!file.includes('"models/policy-mlp.onnx"'))
      throw new Error('the registry does not serve the model `npm run model` writes');
    await writeFile(
      env.MODELS_FILE,
      file.replaceAll('127.0.0.1:9000', `127.0.0.1:${port}`).replace('"models/policy-mlp.onnx"', JSON.stringify(model)),
    );
  }
  const running = await startService(env);
  return {
    ...running,
    close: async () => {
      await Promise.all([running.close(), ...stops.map((stop) => stop())]);
    },
  };
}

for (const {name, registry} of configurations) {
  // One service per configuration, its examples run in the README's order: the streamed curl is
  // the second request a fresh `npm start` sees.
  let service: Promise<Running> | undefined;
  const serving = () => (service ??= serve(registry));
  test.after.always(async () => (await service)?.close());

  test.serial(
    `against ${name}: the README's curl gets the answer it shows, byte for byte but line breaks and which call got which id; each value the formula's`,
    async (t) => {
      const {url} = await serving();
      const [command, shown] = blocks('## Example');
      const curl = parseCurl(command.text);
      const response = await send(curl, url);
      const text = await response.text();
      t.is(response.status, 200, text);
      const answer = JSON.parse(text);
      const agents = JSON.parse(curl.body).agents as Record<string, Agent>;
      for (const [id, agent] of Object.entries(agents)) t.is(answer.results[id].prediction, expected(agent), id);
      const printed = shown.text.replace(/\n\s*/g, '');
      const shownAnswer = JSON.parse(printed);
      for (const id of Object.keys(agents)) t.is(shownAnswer.results[id].prediction, answer.results[id].prediction);
      if (!registry) {
        // The two keys' windows close in the same millisecond: their calls take b-1-1 and b-1-2 in
        // either order. Everything else is the bytes shown.
        const ids = (body: string) => [...body.matchAll(/"id":"(b-[^"]+)"/g)].map((m) => m[1]);
        t.deepEqual(ids(text).sort(), ids(printed).sort());
        t.is(text.replace(/"id":"b-[^"]+"/g, '"id":…'), printed.replace(/"id":"b-[^"]+"/g, '"id":…'));
      }
    },
  );

  test.serial(
    `against ${name}: the README's streamed curl gets one line per agent, then the last line, each as shown`,
    async (t) => {
      const {url} = await serving();
      const block = blocks('## API').find((b) => b.text.includes('application/x-ndjson'));
      const curl = parseCurl(block!.text);
      const response = await send(curl, url);
      t.is(response.status, 200);
      t.is(response.headers.get('content-type'), 'application/x-ndjson');
      const lines = (await response.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const shown = curl.output.map((l) => JSON.parse(l));
      const agents = JSON.parse(curl.body).agents as Record<string, Agent>;
      t.deepEqual(
        lines
          .slice(0, -1)
          .map((l) => l.id)
          .sort(),
        Object.keys(agents).sort(),
        'every agent once',
      );
      t.deepEqual(lines.at(-1), shown.at(-1), 'the last line');
      for (const line of shown.slice(0, -1)) {
        const got = lines.find((l) => l.id === line.id);
        t.is(line.prediction, expected(agents[line.id]), `the README's value for ${line.id}`);
        t.is(got.prediction, line.prediction);
        t.is(got.batch.size, line.batch.size);
      }
      // The second request of a fresh `npm start`: its two calls are b-1-3 and b-1-4, in either order.
      if (!registry)
        t.deepEqual(
          lines
            .slice(0, -1)
            .map((l) => l.batch.id)
            .sort(),
          shown
            .slice(0, -1)
            .map((l) => l.batch.id)
            .sort(),
        );
    },
  );

  test.serial(
    `against ${name}: npm run predict (also --stream), npm run load and the Python client work as the README writes them`,
    async (t) => {
      const {url} = await serving();
      const predicted = await npmRun('predict', ['--url', url, '--agents', '6']);
      const request = JSON.parse(
        predicted.stdout.slice(predicted.stdout.indexOf('{'), predicted.stdout.indexOf('\n}\n') + 2),
      );
      const answer = JSON.parse(predicted.stdout.slice(predicted.stdout.lastIndexOf('\n{\n') + 1));
      t.regex(predicted.stdout, /\n200 OK after \d+ ms\n/);
      for (const [id, agent] of Object.entries<Agent>(request.agents))
        t.is(answer.results[id].prediction, expected(agent), id);
      if (registry) {
        const served = new Set([
          'resnet-50 scout',
          'resnet-50 pilot',
          'gpt-mini pilot',
          'bert-base scout',
          'bert-base pilot',
        ]);
        for (const agent of Object.values<Agent>(request.agents))
          t.true(served.has(`${agent.model} ${agent.agent_type}`));
      }

      const streamed = await npmRun('predict', ['--url', url, '--agents', '3', '--stream']);
      const lines = streamed.stdout
        .split('\n')
        .filter((l) => /^\+ *\d+ ms {2}/.test(l))
        .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
      t.is(lines.length, 4, streamed.stdout);
      t.true(lines.slice(0, 3).every((l) => typeof l.prediction === 'number'));
      t.is(lines[3].done, true);

      const load = await npmRun('load', ['--url', url, '--rate', '20', '--duration', '2']);
      t.regex(load.stdout, /every 10th answer against the simulated formula: 0 wrong/);
      t.regex(load.stdout, /\nerrors {8}0$/m);

      if (!needPart(t, 'python3')) return;
      const {stdout} = await run('python3', ['examples/client.py', '--url', url, '--clients', '12', '--agents', '3'], {
        cwd: root,
      });
      t.regex(stdout, /^12 clients, 36 agents, \d+ backend calls, 0 wrong predictions$/m);
      const calls = Number(/(\d+) backend calls/.exec(stdout)![1]);
      t.true(calls < 36, `${calls} backend calls for 36 agents: agents of different clients shared calls`);
    },
  );
}
