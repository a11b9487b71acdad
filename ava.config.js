// ava 7 runs TypeScript test files natively on Node 24 (type stripping): no loader, no build.
export default {
  files: ['test/**/*.test.ts'],
  extensions: {ts: 'module'},
  timeout: '60s',
  // The service tests start worker threads of their own; two test files at a time keeps a
  // two-core machine responsive.
  concurrency: 2,
};
