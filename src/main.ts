// Entry point (npm start, and the Dockerfile's CMD): config, logger, service, signals.

import {loadConfigOrExit} from './config.ts';
import {createLogger} from './log.ts';
import {RegistryError} from './registry.ts';
import {Service} from './service.ts';

const config = loadConfigOrExit('agent-batcher');

const log = createLogger(config.logLevel);
let service: Service;
try {
  service = new Service(config, log);
} catch (error) {
  if (!(error instanceof RegistryError)) throw error;
  process.stderr.write(`agent-batcher: ${error.message}\n`);
  process.exit(1);
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) {
    log.warn({signal}, 'second signal: exiting now');
    process.exit(1);
  }
  log.info({signal}, 'shutting down');
  service.shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      log.fatal({err: error}, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGHUP', () => service.reloadRegistry());
process.on('SIGINT', onSignal);

try {
  await service.start();
} catch (error) {
  log.fatal({err: error}, 'could not start');
  process.exit(1);
}
