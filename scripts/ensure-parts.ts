// The real parts some tests drive, from Debian's packages:
//   chromium     the docs-page test (playwright-core with Debian's browser, never a downloaded one)
//   nats-server  the scale-out tests (and the bench's scale-out scenario)
//   python3      the Python example client
// `npm test` never installs anything: a test that needs a missing part fails with one line saying
// which and how to install it (test/helpers/parts.ts), and every other test runs. CI (.ci/run,
// as root) runs this file, which installs the missing ones with one `apt-get install`.

import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';

export type Part = 'chromium' | 'nats-server' | 'python3';

/** Where each part may be: Debian's paths, then PATH. */
const candidates: Record<Part, string[]> = {
  chromium: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'],
  'nats-server': ['/usr/sbin/nats-server', '/usr/bin/nats-server', 'nats-server'],
  python3: ['python3'],
};

/** A variable naming the part's path: when set, it is the only place looked at. */
const variables: Partial<Record<Part, string>> = {chromium: 'CHROMIUM_PATH', 'nats-server': 'NATS_SERVER'};

function runs(command: string): boolean {
  try {
    execFileSync(command, ['--version'], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
}

/** The part's executable, or undefined when it is not installed. */
export function findPart(part: Part): string | undefined {
  const variable = variables[part];
  const places = variable && process.env[variable] ? [process.env[variable]] : candidates[part];
  // A browser is only looked for (starting one to ask its version is slow); the others must run.
  return places.find((p) => (part === 'chromium' ? existsSync(p) : runs(p)));
}

/** One line: what is missing and the exact command that installs it. */
export function missingPart(part: Part, forWhat: string): string {
  const variable = variables[part] ? `, or set ${variables[part]} to its path` : '';
  return `${forWhat} needs ${part}, which was not found: install it once with \`sudo apt-get install -y ${part}\` (or run \`bash .ci/run\`, which installs it)${variable}`;
}

/** nats-server's path; a missing one is one line saying how to install it. */
export function natsServerPath(): string {
  const found = findPart('nats-server');
  if (!found) throw new Error(missingPart('nats-server', 'the scale-out'));
  return found;
}

if (import.meta.main) {
  const parts = Object.keys(candidates) as Part[];
  const missing = parts.filter((part) => !findPart(part));
  if (missing.length === 0) process.exit(0);
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.error(
      `ensure-parts: some tests need ${missing.join(', ')}: install with \`sudo apt-get install -y ${missing.join(' ')}\``,
    );
    process.exit(1);
  }
  console.log(`ensure-parts: installing Debian's ${missing.join(', ')} for the tests (apt-get)…`);
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
  execFileSync('apt-get', ['update', '-qq'], {stdio: 'inherit', env});
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {stdio: 'inherit', env});
  const still = missing.filter((part) => !findPart(part));
  if (still.length > 0) {
    console.error(`ensure-parts: ${still.join(', ')} installed but not found`);
    process.exit(1);
  }
}
