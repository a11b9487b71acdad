// What a model or an agent type may be called (DESIGN §3): 1 to 128 characters matching
// namePattern. No control characters, so "\n" never occurs in a name, and a mailbox key's string
// form (protocol/mailbox-key.ts) is unambiguous. One schema for the request and the registry file.

import {z} from 'zod';

export const namePattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** A model or agent type name, with the message a client or a registry file is told. */
export const Name = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(namePattern, `must match ${namePattern.source}`);
