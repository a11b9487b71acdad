// A cluster node and its NATS connection when it goes wrong: NATS not reachable (at start), and a
// CLUSTER_NODE its credentials do not allow. Each says so clearly, stays not ready (a gateway) or
// does not start (an actor host), and SIGTERM ends it promptly in every such state.

import test from 'ava';
import {spawn} from 'node:child_process';
import {setTimeout as sleep} from 'node:timers/promises';
import {freePort, waitUntilUp} from '../scripts/up.ts';
import {exactClients} from './helpers/checked-burst.ts';
import {cleanup, clusterKey, startActors, startGateway, startLockedNats, startNats} from './helpers/cluster.ts';
import type {Proc} from './helpers/cluster.ts';

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`still not: ${what}`);
    await sleep(50);
  }
}

const readyz = async (url: string) => (await fetch(`${url}/readyz`)).status;

/** SIGTERM, and how it ended (the helper's SIGKILL comes only after 15 s: a code means it exited itself). */
async function terminated(p: Proc): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
  await p.stop('SIGTERM');
  return {code: p.child.exitCode, signal: p.child.signalCode};
}

test.serial(
  'NATS not reachable at start: the gateway says so at warn (no password), /readyz 503; once NATS is up the cluster serves exact answers; lost again: one warn line and 503; SIGTERM while unreachable exits at once',
  async (t) => {
    const port = await freePort();
    const url = `nats://gw:GQ%2FV%40W@127.0.0.1:${port}`;
    const gateway = await gatewayNotReady({NATS_URL: url});
    const host = spawnNode('actors', {NATS_URL: url});
    const lonely = await gatewayNotReady({NATS_URL: `nats://127.0.0.1:${await freePort()}`});
    cleanup(t, gateway, host, lonely);
    t.is(await readyz(gateway.url), 503, 'not ready while NATS cannot be reached');
    await until(() => gateway.output().includes('cannot reach NATS yet'), 'the warn line');
    const line =
      gateway
        .output()
        .split('\n')
        .find((l) => l.includes('cannot reach NATS yet')) ?? '';
    t.regex(line, /"level":40/);
    t.regex(line, new RegExp(`127\\.0\\.0\\.1:${port}`));
    for (const p of [gateway, host]) t.false(/GQ|%2FV|%40W/.test(p.output()), 'no part of the password');
    const nats = await startNats(port);
    cleanup(t, nats);
    await until(async () => (await readyz(gateway.url)) === 200, 'ready once NATS is up and the host joined');
    t.deepEqual(await exactClients([gateway.url], 40), []);
    // Every line names each key once (pino writes a child's binding and a call's field both).
    const joined =
      gateway
        .output()
        .split('\n')
        .find((l) => l.includes('actor host joined')) ?? '';
    t.is(joined.match(/"boot":/g)?.length, 1, joined);
    t.regex(joined, /"hostBoot":"[0-9a-f]{20}"/);
    // NATS lost: one warn line, and not ready until it is back.
    await nats.stop('SIGKILL');
    await until(() => gateway.output().includes('lost the NATS connection'), 'the loss line');
    await until(async () => (await readyz(gateway.url)) === 503, 'not ready without NATS');
    t.is(
      gateway
        .output()
        .split('\n')
        .filter((l) => l.includes('lost the NATS connection')).length,
      1,
    );
    t.deepEqual(
      await terminated(lonely),
      {code: 0, signal: null},
      'a gateway that never reached NATS exits on SIGTERM',
    );
  },
);

/** A node of `role` started as it is (not waiting for it to be ready), with its output kept. */
function spawnNode(role: 'actors' | 'gateway', env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      ROLE: role,
      ACTOR_POOL_SIZE: '1',
      CLUSTER_KEY: clusterKey,
      BACKEND_LATENCY_MIN_MS: '5',
      BACKEND_LATENCY_MAX_MS: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
      return child.exitCode;
    },
  };
}

/** A gateway that listens (its /healthz answers) but need not be ready. */
async function gatewayNotReady(env: Record<string, string>): Promise<Proc & {url: string}> {
  const port = await freePort();
  const p = spawnNode('gateway', {PORT: String(port), ...env});
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${url}/healthz`, {child: p.child, describe: p.output});
  return {...p, url};
}

test.serial(
  'a CLUSTER_NODE its NATS credentials do not allow: an actor host refuses to start naming CLUSTER_NODE and the subject; a gateway logs it and stays not ready, and exits on SIGTERM; the right nodes serve exact answers beside them',
  async (t) => {
    const nats = await startLockedNats();
    cleanup(t, nats);
    // host1's credentials, but the name host2: its inbox and heartbeat subjects are host2's.
    const mis = spawnNode('actors', {...nats.envFor('host1'), CLUSTER_NODE: 'host2'});
    await new Promise((resolve) => mis.child.once('exit', resolve));
    t.is(mis.child.exitCode, 1, 'the actor host did not start');
    t.regex(mis.output(), /CLUSTER_NODE=host2: NATS refused to subscribe to agent-batcher\.host\.host2\./);
    t.false(mis.output().includes(nats.passwords.host1), 'no password');

    const host = await startActors('', {
      ...nats.envFor('host1'),
      BACKEND_LATENCY_MIN_MS: '5',
      BACKEND_LATENCY_MAX_MS: '10',
    });
    const good = await startGateway('', nats.envFor('gw1'));
    const deaf = await gatewayNotReady({...nats.envFor('gw1'), CLUSTER_NODE: 'gw2'});
    cleanup(t, host, good, deaf);
    await until(() => deaf.output().includes('NATS refused a subject this gateway needs'), 'the error line');
    t.regex(deaf.output(), /CLUSTER_NODE=gw2: NATS refused to subscribe to agent-batcher\.gateway\.gw2\./);
    await until(async () => (await readyz(good.url)) === 200, 'the right gateway ready');
    t.deepEqual(await exactClients([good.url], 40), []);
    t.is(await readyz(deaf.url), 503, 'the misnamed gateway is not ready');
    t.deepEqual(await terminated(deaf), {code: 0, signal: null}, 'and SIGTERM ends it');
  },
);
