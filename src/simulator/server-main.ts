// `npm run backend`: the simulated network over HTTP on BACKEND_PORT (default 9000).

import {once} from 'node:events';
import {loadConfigOrExit} from '../config.ts';
import {listenProblem} from '../listen-error.ts';
import {createLogger} from '../log.ts';
import {createBackendServer} from './server.ts';

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
