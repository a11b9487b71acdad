// Entry point (npm start, npm run gateway / actors, and the Dockerfile's CMD): config, logger,
// the role's process, signals. ROLE=all (the default) is the whole service in one process; the
// cluster roles load the NATS client, and only they do.

import {loadConfigOrExit} from './config.ts';
import {createLogger} from './log.ts';
import {loadRegistry, RegistryError} from './registry.ts';
import type {Registry} from './registry.ts';
import {Service} from './service.ts';

const config = loadConfigOrExit('agent-batcher');
const log = createLogger(config.logLevel).child({role: config.role});

/** What a role's process must do on signals. */
interface Running {
  shutdown(): Promise<void>;
  reload(): void;
}

async function start(): Promise<Running> {
  if (config.role === 'actors') {
    const {ActorsNode} = await import('./cluster/actors-node.ts');
    const node = new ActorsNode(config, loadRegistry(config), log);
    await node.start();
    return {
      shutdown: () => node.shutdown(),
      reload: () => {
        let next: Registry;
        try {
          next = loadRegistry(config);
        } catch (error) {
          log.error({reason: (error as Error).message}, 'model registry reload refused; the old registry stays');
          return;
        }
        node.reconfigure(next);
        log.info('model registry reloaded');
      },
    };
  }
  let service: Service;
  if (config.role === 'gateway') {
    const {connectNats, nodeId} = await import('./cluster/nats.ts');
    const {GatewayTransport} = await import('./cluster/gateway-transport.ts');
    const name = config.cluster!.node ?? nodeId();
    const boot = nodeId();
    const nc = await connectNats(config.nats!, `agent-batcher gateway ${name}`, log);
    service = new Service(config, log, {
      actors: (events) =>
        new GatewayTransport(nc, {name, boot, prefix: config.nats!.prefix, key: config.cluster!.key}, events, log.child({gateway: name, boot})),
    });
  } else {
    service = new Service(config, log);
  }
  await service.start();
  return {shutdown: () => service.shutdown(), reload: () => service.reloadRegistry()};
}

let running: Running | undefined;
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
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
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('SIGHUP', () => running?.reload());

try {
  running = await start();
} catch (error) {
  if (error instanceof RegistryError) {
    process.stderr.write(`agent-batcher: ${error.message}\n`);
    process.exit(1);
  }
  log.fatal({err: error}, 'could not start');
  process.exit(1);
}
