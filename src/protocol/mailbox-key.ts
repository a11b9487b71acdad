// A mailbox is named by the pair (agent_type, model). Both parts are validated names (src/names.ts:
// no control characters), so "\n" cannot occur in either and the string form is unambiguous.

/** A key as its pair; in messages and maps a key travels as its string form (keyString). */
export interface MailboxKey {
  readonly agentType: string;
  readonly model: string;
}

/** Between the agent type and the model in a key's string form. */
export const keySeparator = '\n';

export function keyString(agentType: string, model: string): string {
  return `${agentType}${keySeparator}${model}`;
}

export function parseKey(key: string): MailboxKey {
  const cut = key.indexOf(keySeparator);
  return {agentType: key.slice(0, cut), model: key.slice(cut + 1)};
}
