// The real parts a test drives (chromium, nats-server, python3). `npm test` installs nothing: a
// test whose part is missing fails with one line saying which and how to install it; every
// other test runs.

import type {ExecutionContext} from 'ava';
import {findPart, missingPart} from '../../scripts/ensure-parts.ts';
import type {Part} from '../../scripts/ensure-parts.ts';

/** The part's executable; when it is missing, fails the test with one line and returns undefined. */
export function needPart(t: ExecutionContext, part: Part): string | undefined {
  const found = findPart(part);
  if (!found) t.fail(missingPart(part, 'this test'));
  return found;
}
