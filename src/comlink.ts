// comlink's package has no "exports" map and its "main" is a UMD build, so Node's ESM loader is
// pointed at the ESM build by path, here, in one place. Types come from comlink-esm.d.ts.

export {expose, proxy, transfer, wrap} from 'comlink/dist/esm/comlink.mjs';
export {default as nodeEndpoint} from 'comlink/dist/esm/node-adapter.mjs';
export type {Remote} from 'comlink';
