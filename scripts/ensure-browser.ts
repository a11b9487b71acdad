// Part of `npm test`: the docs-page test drives a real headless Chromium (playwright-core with
// Debian's chromium, never a downloaded browser). Finds it, or installs Debian's package when
// running as root on Debian; otherwise says how to get it and fails.

import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';

export const browserCandidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findBrowser(): string | undefined {
  return browserCandidates.find((p): p is string => !!p && existsSync(p));
}

if (import.meta.main) {
  if (findBrowser()) process.exit(0);
  const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canApt) {
    console.error('The docs-page test needs Chromium: install Debian\'s "chromium" package, or set CHROMIUM_PATH.');
    process.exit(1);
  }
  console.log('ensure-browser: installing Debian\'s chromium for the docs-page test (apt-get)…');
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
  execFileSync('apt-get', ['update', '-qq'], {stdio: 'inherit', env});
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {stdio: 'inherit', env});
  if (!findBrowser()) {
    console.error('ensure-browser: chromium was installed but not found');
    process.exit(1);
  }
}
