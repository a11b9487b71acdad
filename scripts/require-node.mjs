// Loaded first by every npm script (`node --import ./scripts/require-node.mjs …`, or run alone):
// 1. On a Node.js older than 24, which cannot run TypeScript natively, say so in one line and
//    stop, instead of failing on the first `.ts` import with an error about file extensions.
// 2. Turn on Node's module compile cache (in os.tmpdir()/node-compile-cache, or NODE_COMPILE_CACHE;
//    NODE_DISABLE_COMPILE_CACHE=1 turns it off): from the second start on, no module is
//    type-stripped or compiled again, which is about half of the service's start-up. Set in the
//    environment too, so that worker threads and child processes use it.
import module from 'node:module';

const needed = 24;
const found = process.versions.node;
if (Number(found.split('.')[0]) < needed) {
  process.stderr.write(
    `agent-batcher needs Node.js ${needed} or newer (it runs TypeScript natively); found ${found}. Get it with \`nvm install\` (.nvmrc), or see README.md, "Node.js 24".\n`,
  );
  process.exit(1);
}
const cache = module.enableCompileCache?.();
if (cache?.directory) process.env.NODE_COMPILE_CACHE ??= cache.directory;
