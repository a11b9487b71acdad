// Entry point (npm start, npm run gateway / actors, and the Dockerfile's CMD): config, logger,
// the role's process, signals. ROLE=all (the default) is the whole service in one process; the
// cluster roles load the NATS client, and only they do.
//
// Start-up order: the signal handlers first (service/signals.ts, imported before anything else:
// a SIGHUP while starting is kept and acted on once up), then config and registry; a role that
// serves HTTP binds its port next ("listening" with the pid; /healthz 200, /readyz 503 starting,
// /predict held), then (ROLE=all) the actor threads start and the HTTP stack (Koa, prom-client,
// the schemas) loads meanwhile: `/readyz` answers 200 after the slower of the two, not their sum.

import {started, whileStarting} from './service/signals.ts';
import {loadConfigOrExit} from './config.ts';
import {listenProblem} from './listen-error.ts';
import {createLogger} from './log.ts';
import {loadRegistry, RegistryError} from './registry.ts';
import {RegistryReloads} from './registry-reloads.ts';
import {checkModels} from './onnx-models.ts';
import {AnswerServer, listeningLine} from './service/http-server.ts';
import type {Service} from './service/service.ts';
import {ActorPool, ThreadStartError} from './threads/pool.ts';
import {poolOptions} from './threads/pool-options.ts';

const config = loadConfigOrExit('agent-batcher');
const log = createLogger(config.logLevel).child({role: config.role});

/** What a role's process must do on signals. */
interface Running {
  shutdown(): Promise<void>;
  reload(): Promise<unknown>;
}

async function start(): Promise<Running> {
  if (config.role === 'actors') {
    const {ActorsNode} = await import('./cluster/actors-node.ts');
    // onnx models are checked before the node joins (src/onnx-models.ts), and again on SIGHUP.
    const node = new ActorsNode(config, await checkModels(loadRegistry(config)), log);
    await node.start();
    const reloads = new RegistryReloads(config, log, (next) => node.reconfigure(next));
    return {shutdown: () => node.shutdown(), reload: () => reloads.reload()};
  }
  // A bad MODELS_FILE stops the start before the port is bound.
  const registry = loadRegistry(config);
  // Then the port: a big pool takes seconds to start, and the user sees it is on its way.
  const http = new AnswerServer(undefined, config.maxConnections);
  listeningLine(log, await http.listen(config.port, config.host));
  let service: Service;
  if (config.role === 'gateway') {
    const {bootId, connectNats, nodeId} = await import('./cluster/nats.ts');
    const {GatewayTransport} = await import('./cluster/gateway-transport.ts');
    const {Service} = await import('./service/service.ts');
    const name = config.cluster!.node ?? nodeId();
    const boot = bootId();
    // Not awaited: the gateway listens at once, its /readyz 503 until NATS is reached.
    const connection = connectNats(config.nats!, name, 'gateway', log);
    connection.catch((error: unknown) => {
      // Refused credentials, a bad NATS_CREDS file: one line (nats.ts NatsStartError), no stack.
      if (error instanceof Error && error.name === 'NatsStartError')
        process.stderr.write(`agent-batcher: ${error.message}\n`);
      else log.fatal({err: error}, 'could not connect to NATS');
      process.exit(1);
    });
    service = new Service(config, log, {
      http,
      registry,
      actors: (events) =>
        new GatewayTransport(
          connection,
          {name, boot, prefix: config.nats!.prefix, key: config.cluster!.key},
          events,
          log.child({gateway: name, boot}),
        ),
    });
  } else {
    const pool = new ActorPool(poolOptions(config, registry, log));
    const {Service} = await import('./service/service.ts');
    service = new Service(config, log, {registry, pool, http});
  }
  // A signal from now on drains: requests held while the threads start get 503 not_ready.
  running = {shutdown: () => service.shutdown(), reload: () => service.reloadRegistry()};
  await service.start();
  return running;
}

/** What a signal stops: the role's process, as soon as it can drain. */
let running: Running | undefined;
let signals = 0;
const stop = (signal: NodeJS.Signals) => {
  if (++signals > 1 || !running) {
    log.warn({signal}, running ? 'second signal: exiting now' : 'signal while starting: exiting now');
    process.exit(running ? 1 : 0);
  }
  log.info({signal}, 'shutting down');
  running.shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      log.fatal({err: error}, 'shutdown failed');
      process.exit(1);
    },
  );
};
whileStarting(stop);

try {
  running = await start();
  const up = running;
  if (started({stop, reload: () => void up.reload()})) log.info('SIGHUP while starting: registry read again now');
} catch (error) {
  // What a newcomer can fix gets one line on stderr, no stack.
  const line =
    error instanceof RegistryError ||
    error instanceof ThreadStartError ||
    (error instanceof Error && error.name === 'NatsStartError')
      ? error.message
      : listenProblem(error, {portVariable: 'PORT', port: config.port, host: config.host});
  if (line) process.stderr.write(`agent-batcher: ${line}\n`);
  else log.fatal({err: error}, 'could not start');
  process.exit(1);
}
