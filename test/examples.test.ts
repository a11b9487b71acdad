import test from 'ava';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {startService} from './helpers/service.ts';

test('the Python example client (standard library only) gets exact answers from a running service', async (t) => {
  const running = await startService({MAX_WAIT_MS: '30'});
  t.teardown(() => running.close());
  const {stdout} = await promisify(execFile)('python3', ['examples/client.py', '--url', running.url, '--clients', '12', '--agents', '3']);
  t.regex(stdout, /^12 clients, 36 agents, \d+ backend calls, 0 wrong predictions$/m);
  const calls = Number(/(\d+) backend calls/.exec(stdout)![1]);
  t.true(calls < 36, `${calls} backend calls for 36 agents: agents of different clients shared calls`);
});
