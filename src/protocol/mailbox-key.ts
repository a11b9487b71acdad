// A mailbox is named by the pair (agent_type, model). Both parts are validated names
// (no control characters), so "\n" cannot occur in either and the string form is unambiguous.

/** What a model or agent type name may be (DESIGN §3): no control characters, so no "\n". */
export const namePattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

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
