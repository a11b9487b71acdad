// A mailbox is named by the pair (agent_type, model). Both parts are validated names
// (no control characters), so "\n" cannot occur in either and the string form is unambiguous.

export interface MailboxKey {
  readonly agentType: string;
  readonly model: string;
}

export function keyString(agentType: string, model: string): string {
  return `${agentType}\n${model}`;
}

export function parseKey(key: string): MailboxKey {
  const cut = key.indexOf('\n');
  return {agentType: key.slice(0, cut), model: key.slice(cut + 1)};
}
