// `node scripts/prune-onnxruntime.ts [DIR]`: keeps only the linux binaries of onnxruntime-node in
// DIR/node_modules (the package ships every platform's: about 290 MB, of which linux x64 and arm64
// are about 60). The Dockerfile runs it after `npm ci --omit=dev`, and .ci/run runs it on its copy
// of the image's recipe, so CI proves the pruned install still runs a model.

import {existsSync, readdirSync, rmSync} from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const bin = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6');
if (!existsSync(bin)) {
  process.stderr.write(`prune-onnxruntime: ${bin} not found (is onnxruntime-node installed?)\n`);
  process.exit(1);
}
const removed = readdirSync(bin).filter((platform) => platform !== 'linux');
for (const platform of removed) rmSync(path.join(bin, platform), {recursive: true, force: true});
process.stdout.write(`prune-onnxruntime: kept ${bin}/linux, removed ${removed.join(', ') || 'nothing'}\n`);
