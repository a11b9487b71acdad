// Entry point (npm start, and the Dockerfile's CMD): config, logger, service, signals.

import {loadConfigOrExit} from './config.ts';
import {createLogger} from './log.ts';
import {Service} from './service.ts';

const config = loadConfigOrExit('agent-batcher');

const log = createLogger(config.logLevel);
const service = new Service(config, log);

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
process.on('SIGINT', onSignal);

try {
  await service.start();
} catch (error) {
  log.fatal({err: error}, 'could not start');
  process.exit(1);
}
