// What the command-line tools (npm run predict, load, bench) share: --help, options checked with
// one line on a mistake, and one line, never a stack, for what the user can fix (no server at
// the URL, a bad value).

import {parseArgs} from 'node:util';
import type {ParseArgsOptionsConfig} from 'node:util';

/** Ends the tool with one line on stderr. Exit code 2 for a usage mistake, 1 otherwise. */
export function fail(program: string, message: string, code = 1): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(code);
}

/**
 * The tool's options: `--help` (or -h) prints `usage` and exits 0; an unknown option or a
 * missing value is one line and exit code 2.
 */
export function parseCli<T extends ParseArgsOptionsConfig>(program: string, usage: string, options: T) {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({options, allowNegative: true}).values;
  } catch (error) {
    return fail(program, `${(error as Error).message.split('\n')[0]} (see --help)`, 2);
  }
}

/** A positive number option, or one line and exit code 2. */
export function positive(program: string, name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0)
    fail(program, `--${name} must be a positive number (got ${value})`, 2);
  return n;
}

/** Why a request to a service at `url` failed, in words a newcomer can act on. */
export function unreachable(url: string, error: unknown): string {
  const cause = (error as {cause?: {code?: string; message?: string}}).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return `cannot reach ${url} (${why}): is the service running? Start it with \`npm start\`, or give its address with --url`;
}
