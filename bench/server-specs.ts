// The servers the bench compares side by side, each in its own process, started one after the
// other on the same machine:
//
//   (a) raw node:http computing inline      (b) Koa + koa-bodyparser + zod computing inline
//   (c) Koa + zod + DataLoader batcher       (d) this service, ACTOR_POOL_SIZE=1 and =2
//
// with the holding variants of (a) and (b), the service under other V8 settings, and the
// scale-out deployments (s1-s3).

import {readFileSync} from 'node:fs';

export type ServerId =
  | 'a'
  | 'ah'
  | 'b'
  | 'bh'
  | 'c'
  | 'd1'
  | 'd2'
  | 'd1a'
  | 'd1n'
  | 'd1s16'
  | 'd1s16o'
  | 'd1s8o'
  | 'd1ms'
  | 'd1st'
  | 's1'
  | 's2'
  | 's3';

/** The V8 flags the service ships with: those of `npm start` (the Dockerfile's CMD is tested to agree). */
export const shippedNodeArgs: readonly string[] = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {scripts: {start: string}}
).scripts.start
  .split(/\s+/)
  .filter((w) => w.startsWith('--max-'));

export interface ServerSpec {
  readonly name: string;
  readonly entry: string;
  readonly env?: Record<string, string>;
  /** Front ends the load is split over (round-robin); default 1. */
  readonly fronts?: number;
  /** A NATS cluster: nats-server, one actor host, then `fronts` gateways. */
  readonly nats?: boolean;
  /** Node/V8 flags, for comparing settings (the service's own are in package.json and the Dockerfile). */
  readonly nodeArgs?: readonly string[];
}

export const servers: Record<ServerId, ServerSpec> = {
  a: {name: '(a) raw node:http, inline', entry: 'bench/baselines/raw-http.ts'},
  ah: {
    name: '(a) raw node:http, holding each request for the backend delay',
    entry: 'bench/baselines/raw-http.ts',
    env: {HOLD: '1'},
  },
  b: {name: '(b) Koa+bodyparser+zod, inline', entry: 'bench/baselines/koa-zod.ts'},
  bh: {
    name: '(b) Koa+bodyparser+zod, holding each request for the backend delay',
    entry: 'bench/baselines/koa-zod.ts',
    env: {HOLD: '1'},
  },
  c: {name: '(c) Koa+zod+DataLoader', entry: 'bench/baselines/dataloader.ts'},
  // This service as it ships: npm start's V8 flags.
  d1: {name: '(d) agent-batcher, pool=1', entry: 'src/main.ts', env: {ACTOR_POOL_SIZE: '1'}, nodeArgs: shippedNodeArgs},
  d2: {name: '(d) agent-batcher, pool=2', entry: 'src/main.ts', env: {ACTOR_POOL_SIZE: '2'}, nodeArgs: shippedNodeArgs},
  // The others run with MAX_WAIT_MS=20 (the fixed window); this one with the default, auto.
  d1a: {
    name: '(d) agent-batcher, pool=1, MAX_WAIT_MS=auto',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1', MAX_WAIT_MS: 'auto'},
    nodeArgs: shippedNodeArgs,
  },
  // V8 settings, chosen by measurement: Node's defaults, and the young generation's semi-space
  // size with and without an old-space limit under 2 GB (which caps how far V8 lets the old
  // generation grow past its live size before collecting it: 2× instead of 4×).
  d1n: {
    name: "(d) agent-batcher, pool=1, Node's default V8 settings",
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: [],
  },
  d1s16: {
    name: '(d) agent-batcher, pool=1, --max-semi-space-size=16',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: ['--max-semi-space-size=16'],
  },
  d1s16o: {
    name: '(d) agent-batcher, pool=1, --max-semi-space-size=16 --max-old-space-size=2047',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: ['--max-semi-space-size=16', '--max-old-space-size=2047'],
  },
  d1s8o: {
    name: '(d) agent-batcher, pool=1, --max-semi-space-size=8 --max-old-space-size=2047',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: ['--max-semi-space-size=8', '--max-old-space-size=2047'],
  },
  // The collector itself: mark-sweep for the young generation (no copying), and no helper threads.
  d1ms: {
    name: '(d) agent-batcher, pool=1, as shipped + --minor-ms',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: [...shippedNodeArgs, '--minor-ms'],
  },
  d1st: {
    name: '(d) agent-batcher, pool=1, as shipped + --single-threaded-gc',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    nodeArgs: [...shippedNodeArgs, '--single-threaded-gc'],
  },
  // Scale-out: the same load split over two front ends (one front end for (i)).
  s1: {name: '(i) one service, pool=1', entry: 'src/main.ts', env: {ACTOR_POOL_SIZE: '1'}, nodeArgs: shippedNodeArgs},
  s2: {
    name: '(ii) two services, round-robin',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    fronts: 2,
    nodeArgs: shippedNodeArgs,
  },
  s3: {
    name: '(iii) two gateways + one actor host over NATS',
    entry: 'src/main.ts',
    env: {ACTOR_POOL_SIZE: '1'},
    fronts: 2,
    nats: true,
    nodeArgs: shippedNodeArgs,
  },
};

/** This service with npm start's V8 flags. */
export function isShipped(id: ServerId): boolean {
  const {entry, nodeArgs = []} = servers[id];
  return (
    entry === 'src/main.ts' &&
    nodeArgs.length === shippedNodeArgs.length &&
    nodeArgs.every((a, i) => a === shippedNodeArgs[i])
  );
}
