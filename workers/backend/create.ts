// The backend a thread's actors call: simulated unless BACKEND_URL is set. The HTTP client (and
// undici) is loaded only when it is used.

import type {BackendOptions} from '../../src/config.ts';
import type {Backend} from './backend.ts';
import {SimulatedBackend} from './simulated.ts';

export async function createBackend(options: BackendOptions): Promise<Backend> {
  if (options.kind === 'simulated') return new SimulatedBackend(options);
  const {HttpBackend} = await import('./http.ts');
  return new HttpBackend(options);
}
