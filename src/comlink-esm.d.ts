// Types for the ESM build of comlink imported by path in comlink.ts.
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import nodeEndpoint from 'comlink/dist/umd/node-adapter';
  export default nodeEndpoint;
}
