// Part of `npm test` (and .ci/run): the real parts some tests drive, from Debian's packages:
//   chromium     the docs-page test (playwright-core with Debian's browser, never a downloaded one)
//   nats-server  the scale-out tests
//   python3      the Python example client
// Finds each; installs the missing ones (one `apt-get update`, one `apt-get install`) when running
// as root on Debian; otherwise says how to get them and fails.

import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';

export const browserCandidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findBrowser(): string | undefined {
  return browserCandidates.find((p): p is string => !!p && existsSync(p));
}

function onPath(command: string): boolean {
  try {
    execFileSync(command, ['--version'], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
}

/** Debian package -> whether it is here. */
const parts: Record<string, () => boolean> = {
  chromium: () => findBrowser() !== undefined,
  'nats-server': () => (process.env.NATS_SERVER ? onPath(process.env.NATS_SERVER) : onPath('nats-server') || existsSync('/usr/sbin/nats-server')),
  python3: () => onPath('python3'),
};

if (import.meta.main) {
  const missing = Object.keys(parts).filter((name) => !parts[name]());
  if (missing.length === 0) process.exit(0);
  const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canApt) {
    console.error(`Some tests need Debian's ${missing.join(', ')}: install with \`apt-get install -y ${missing.join(' ')}\` (or set CHROMIUM_PATH / NATS_SERVER).`);
    process.exit(1);
  }
  console.log(`ensure-parts: installing Debian's ${missing.join(', ')} for the tests (apt-get)…`);
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
  execFileSync('apt-get', ['update', '-qq'], {stdio: 'inherit', env});
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {stdio: 'inherit', env});
  const still = missing.filter((name) => !parts[name]());
  if (still.length > 0) {
    console.error(`ensure-parts: ${still.join(', ')} installed but not found`);
    process.exit(1);
  }
}
