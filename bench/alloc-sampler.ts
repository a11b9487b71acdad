// Preloaded by `node bench/profile.ts --alloc` into the server (`--import`): from SIGUSR2 (sent as
// the load starts) it samples what the main thread allocates, collected objects included (what the
// young generation churns through, not only what survives), and writes the profile to
// ALLOC_PROFILE_FILE on SIGTERM, before the server's own handler runs.

import {writeFileSync} from 'node:fs';
import {Session} from 'node:inspector';
import {isMainThread} from 'node:worker_threads';

const file = process.env.ALLOC_PROFILE_FILE;
if (isMainThread && file) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  process.once('SIGUSR2', () => {
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  });
  process.prependListener('SIGTERM', () => {
    // Same-thread inspector calls answer synchronously: the file is written before the server exits.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
