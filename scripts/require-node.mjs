// Loaded first (`node --import ./scripts/require-node.mjs …`, or run alone): on a Node.js older
// than 24, which cannot run TypeScript natively, say so in one line and stop, instead of failing
// on the first `.ts` import with an error about file extensions.
const needed = 24;
const found = process.versions.node;
if (Number(found.split('.')[0]) < needed) {
  process.stderr.write(`agent-batcher needs Node.js ${needed} or newer (it runs TypeScript natively); found ${found}. See README.md, "Two commands".\n`);
  process.exit(1);
}
