// `npm run backend`: the simulated network over HTTP on BACKEND_PORT (default 9000).

import {once} from 'node:events';
import {loadConfigOrExit} from '../config.ts';
import {listenProblem} from '../listen-error.ts';
import {createLogger} from '../log.ts';
import {createBackendServer} from './server.ts';

// It takes no options, only the environment: --help says which.
if (process.argv.length > 2) {
  const help = process.argv.slice(2).some((a) => a === '--help' || a === '-h');
  process.stdout.write(
    `${help ? '' : `agent-batcher backend: no options (got ${process.argv.slice(2).join(' ')}); set the environment instead\n`}` +
      'npm run backend: the simulated network over HTTP (POST /predict, the Open Inference Protocol under /v2,\n' +
      'TF Serving under /v1/models). Environment: BACKEND_PORT (default 9000), HOST,\n' +
      'BACKEND_LATENCY_MIN_MS / BACKEND_LATENCY_MAX_MS (default 3000 / 7000), LOG_LEVEL.\n',
  );
  process.exit(help ? 0 : 2);
}
const config = loadConfigOrExit('agent-batcher backend');
const log = createLogger(config.logLevel).child({component: 'simulated-backend'});
const server = createBackendServer({latencyMinMs: config.latencyMinMs, latencyMaxMs: config.latencyMaxMs});
server.listen(config.backendPort, config.host);
try {
  await once(server, 'listening');
} catch (error) {
  const line = listenProblem(error, {portVariable: 'BACKEND_PORT', port: config.backendPort, host: config.host});
  if (!line) throw error;
  process.stderr.write(`agent-batcher backend: ${line}\n`);
  process.exit(1);
}
log.info(
  {port: config.backendPort, latencyMs: [config.latencyMinMs, config.latencyMaxMs]},
  'simulated backend listening: POST /predict, the Open Inference Protocol under /v2, TF Serving under /v1/models',
);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
