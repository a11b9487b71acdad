// The rooms of the house and their ranking, checked: a file may import from its own room and from
// the rooms below it, never from a room above (README, "Where things live"). `npm run lint` runs
// this file; test/rooms.test.ts proves it catches an upward import.
//
// Highest first. A room is a list of path prefixes (a folder ends with "/"); the first room whose
// prefix matches a file holds it, so src/main.ts is placed before the src/ base room, and every
// file of the checked folders is in some room.

import {readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';

export const rooms: readonly {readonly name: string; readonly holds: readonly string[]}[] = [
  {name: 'tests', holds: ['test/']},
  {name: 'bench', holds: ['bench/']},
  {name: 'tools', holds: ['scripts/']},
  {name: 'entry', holds: ['src/main.ts']},
  {name: 'service', holds: ['src/service/']},
  {name: 'cluster', holds: ['src/cluster/']},
  {name: 'metrics', holds: ['src/metrics/']},
  {name: 'http', holds: ['src/http/']},
  {name: 'threads', holds: ['src/threads/']},
  {name: 'coordinator', holds: ['src/coordinator/']},
  {name: 'actors', holds: ['workers/']},
  {name: 'simulator', holds: ['src/simulator/']},
  {name: 'protocol', holds: ['src/protocol/']},
  {name: 'base', holds: ['src/']},
];

/** The folders whose files are checked. */
const checked = ['src', 'workers', 'test', 'bench', 'scripts'];

/** The rank of the room holding `file` (a path relative to the root, with "/"); 0 is the highest. */
export function rankOf(file: string): number {
  return rooms.findIndex((room) => room.holds.some((prefix) => file === prefix || file.startsWith(prefix)));
}

/** Relative module specifiers of a file: static imports and exports, and import() of a literal. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm)) found.push(m[1]);
  return found;
}

function filesUnder(root: string, folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, folder), {withFileTypes: true, recursive: true})) {
    if (!entry.isFile() || !/\.(ts|mjs|js)$/.test(entry.name)) continue;
    out.push(path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
  }
  return out;
}

/** Every import that runs up into a higher room, as one line each. */
export function roomProblems(root: string): string[] {
  const problems: string[] = [];
  for (const file of checked.flatMap((folder) => filesUnder(root, folder))) {
    const rank = rankOf(file);
    for (const spec of specifiers(readFileSync(path.join(root, file), 'utf8'))) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const to = rankOf(target);
      if (to >= 0 && to < rank) {
        problems.push(`${file} (${rooms[rank].name}) imports ${target} (${rooms[to].name}), a room above it`);
      }
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = roomProblems(path.join(import.meta.dirname, '..'));
  if (problems.length > 0) {
    console.error(`rooms: ${problems.length} import(s) against the ranking:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}
