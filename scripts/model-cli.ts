// `npm run model` (scripts/make-model.ts run as a program): its arguments checked, with --help and
// one line for each mistake (exit code 2) or for a file that cannot be written (exit code 1).

import {statSync} from 'node:fs';
import {fail} from './cli.ts';
import {exampleModel, mlp, writeMlp} from './make-model.ts';

const usage = `
npm run model -- [OUT] [D,H1,...,1]

Writes a seeded MLP (ReLU, float32) as an ONNX file; nothing is downloaded.

  OUT          the file to write (default ${exampleModel.path}, the model examples/models.json serves)
  D,H1,...,1   layer sizes: the input length D, hidden sizes, and 1 output (default ${exampleModel.sizes.join(',')})

Example: npm run model -- /tmp/small.onnx 8,32,1
`;

/** Layers and weights past these would take minutes and gigabytes: a typo, not a model. */
const maxLayerSize = 65_536;
const maxWeights = 50_000_000;

export function runModelCli(args: readonly string[]): void {
  if (args.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${usage.trim()}\n`);
    return;
  }
  const option = args.find((a) => a.startsWith('-'));
  if (option) fail('model', `unknown option ${JSON.stringify(option)} (see --help)`, 2);
  if (args.length > 2)
    fail('model', `at most two arguments, OUT and the layer sizes (got ${args.length}; see --help)`, 2);
  const out = args[0] ?? exampleModel.path;
  if (isFolder(out)) fail('model', `OUT must be a file to write, but ${out} is a folder (e.g. ${out}/model.onnx)`, 2);
  const sizes = args[1] === undefined ? [...exampleModel.sizes] : layerSizes(args[1]);
  let written: ReturnType<typeof writeMlp>;
  try {
    written = writeMlp(out, mlp(sizes));
  } catch (error) {
    fail('model', `cannot write ${out}: ${(error as Error).message.split('\n')[0]}`);
  }
  process.stdout.write(`wrote ${out}: MLP ${written.sizes.join(' -> ')} (ReLU, ${written.type}, seed 20)\n`);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function layerSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => (/^\d+$/.test(s.trim()) ? Number(s) : Number.NaN));
  const why =
    sizes.length < 2
      ? 'at least two sizes, D and the output 1'
      : sizes.some((s) => !Number.isInteger(s) || s < 1 || s > maxLayerSize)
        ? `whole numbers from 1 to ${maxLayerSize}`
        : sizes.at(-1) !== 1
          ? 'the last size must be 1 (one output per row)'
          : sizes.slice(1).reduce((n, s, i) => n + sizes[i] * s, 0) > maxWeights
            ? `at most ${maxWeights} weights in all`
            : undefined;
  if (why) fail('model', `layer sizes must be D,H1,...,1: ${why} (got ${JSON.stringify(text)}; see --help)`, 2);
  return sizes;
}
