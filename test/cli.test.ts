// The command-line tools as a newcomer meets them: --help, one line (never a stack) for what the
// user can fix, the load tool saying when its in-flight cap held the rate back, the service and
// the backend naming the variable to set when their port is taken, and every npm script checking
// the Node version first.

import test from 'ava';
import {execFile} from 'node:child_process';
import {readFileSync} from 'node:fs';
import net from 'node:net';
import {once} from 'node:events';
import {promisify} from 'node:util';
import {freePort} from '../scripts/up.ts';
import {startService} from './helpers/service.ts';

const root = new URL('../', import.meta.url);
const scripts = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts as Record<string, string>;
const run = promisify(execFile);

/** A tool as its npm script runs it; resolves with its exit code and output, whatever the code. */
async function tool(name: string, args: string[], env: Record<string, string> = {}) {
  const words = scripts[name].split(/\s+/);
  const [command, ...rest] =
    words[0] === 'bash' ? [process.execPath, '--import', './scripts/require-node.mjs', 'bench/run.ts'] : words;
  if (command !== 'node' && command !== process.execPath) throw new Error(`unexpected script ${scripts[name]}`);
  try {
    const {stdout, stderr} = await run(process.execPath, [...rest.filter((w) => !/^[A-Z_]+=/.test(w)), ...args], {
      cwd: root,
      env: {...process.env, ...env},
      timeout: 30_000,
    });
    return {code: 0, stdout, stderr};
  } catch (error) {
    const e = error as {code: number; stdout: string; stderr: string};
    return {code: e.code, stdout: e.stdout, stderr: e.stderr};
  }
}

/** A loopback port something else is listening on. */
async function takenPort(t: {teardown(fn: () => void): void}): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

test('every npm script checks the Node version first (one line on a Node older than 24)', (t) => {
  const runsCheck = (line: string) =>
    line.includes('--import ./scripts/require-node.mjs') || line.startsWith('node scripts/require-node.mjs && ');
  for (const [name, line] of Object.entries(scripts)) {
    if (line === 'bash bench/run.sh')
      t.regex(
        readFileSync(new URL('bench/run.sh', root), 'utf8'),
        /exec node --import "\$here\/\.\.\/scripts\/require-node\.mjs"/,
        name,
      );
    else t.true(runsCheck(line), `npm run ${name}: ${line}`);
  }
});

for (const name of ['predict', 'load', 'bench']) {
  test(`npm run ${name} -- --help prints its usage; an unknown option is one line and exit code 2`, async (t) => {
    const help = await tool(name, ['--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, new RegExp(`^npm run ${name} -- \\[`));
    const bad = await tool(name, ['--no-such-option']);
    t.is(bad.code, 2);
    t.is(bad.stderr, `${name}: Unknown option '--no-such-option' (see --help)\n`);
  });
}

test('npm run predict and npm run load with no service at the URL say so in one line, no stack', async (t) => {
  const port = await freePort(); // nothing listens there
  for (const name of ['predict', 'load']) {
    const url = `http://127.0.0.1:${port}`;
    const {code, stderr} = await tool(name, ['--url', url, '--duration', '1'].slice(0, name === 'load' ? 4 : 2));
    t.is(code, 1, name);
    t.is(stderr.split('\n').length, 2, `one line: ${stderr}`);
    t.regex(
      stderr,
      new RegExp(`^${name}: cannot reach ${url} \\(.+\\): is the service running\\? Start it with \`npm start\``),
    );
  }
});

test('npm run load says how many in flight it allows, and when that cap held the rate back', async (t) => {
  const running = await startService({BACKEND_LATENCY_MIN_MS: '300', BACKEND_LATENCY_MAX_MS: '300'});
  t.teardown(() => running.close());
  const capped = await tool('load', ['--url', running.url, '--rate', '40', '--duration', '1', '--clients', '2']);
  t.is(capped.code, 0, capped.stderr);
  t.regex(capped.stdout, /open loop at 40 req\/s, at most 2 in flight/);
  t.regex(
    capped.stdout,
    /in flight {5}the cap of 2 was full: \d+ requests of the schedule were not sent, so the rate delivered is below 40\/s \(raise --clients\)/,
  );
  const sized = await tool('load', ['--url', running.url, '--rate', '5', '--duration', '1']);
  t.regex(sized.stdout, /open loop at 5 req\/s, at most 40 in flight \(rate × 8 s\)/);
  t.notRegex(sized.stdout, /the cap of/);
});

test('npm start and npm run backend on a taken port name the port and the variable to set, in one line', async (t) => {
  const port = await takenPort(t);
  const service = await tool('start', [], {
    PORT: String(port),
    HOST: '127.0.0.1',
    ACTOR_POOL_SIZE: '1',
    LOG_LEVEL: 'warn',
  });
  t.is(service.code, 1);
  t.is(
    service.stderr,
    `agent-batcher: port ${port} on 127.0.0.1 is already in use (another copy running?): stop it, or set PORT to a free port, e.g. PORT=${port + 1}\n`,
  );
  const backend = await tool('backend', [], {BACKEND_PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn'});
  t.is(backend.code, 1);
  t.regex(
    backend.stderr,
    /^agent-batcher backend: port \d+ on 127\.0\.0\.1 is already in use .*set BACKEND_PORT to a free port/,
  );
  t.is(backend.stderr.split('\n').length, 2);
});
