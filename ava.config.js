// ava 7 runs TypeScript test files natively on Node 24 (type stripping): no loader, no build.
import os from 'node:os';
import path from 'node:path';

export default {
  files: ['test/**/*.test.ts'],
  extensions: {ts: 'module'},
  timeout: '60s',
  // The service tests start worker threads of their own; two test files at a time keeps a
  // two-core machine responsive.
  concurrency: 2,
  // Node's module compile cache, as `npm start` uses it (scripts/require-node.mjs): the actor
  // threads and processes the tests start strip and compile each module once, not every time.
  // `npm run coverage` turns it off (NODE_DISABLE_COMPILE_CACHE=1: it blurs coverage).
  environmentVariables: process.env.NODE_DISABLE_COMPILE_CACHE
    ? {}
    : {NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(os.tmpdir(), 'node-compile-cache')},
};
