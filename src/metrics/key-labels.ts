// The label values of a key's series, and their cap: per-key series exist for at most
// METRICS_MAX_KEYS keys at once (the first keys seen among those alive); every other key is summed
// under agent_type="_other", model="_other", which only ever grows, so counters stay monotone. A
// retired key gives its place to the next new key. Label values come only from validated names.

import {parseKey} from '../protocol/mailbox-key.ts';

export interface KeyLabels {
  readonly agent_type: string;
  readonly model: string;
}

/** Every key past METRICS_MAX_KEYS is summed here ('_' cannot start a valid name). */
export const otherKeys: KeyLabels = {agent_type: '_other', model: '_other'};

export class KeyLabelTable {
  /** Keys with their own series, and their label values (one object per key: series find it by identity). */
  readonly #labelled = new Map<string, KeyLabels>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** The key's own labels while it has a place among the first `maxKeys`, else `otherKeys`. */
  labelsOf(key: string): KeyLabels {
    let labels = this.#labelled.get(key);
    if (labels) return labels;
    if (this.#labelled.size >= this.#maxKeys) return otherKeys;
    const {agentType, model} = parseKey(key);
    labels = {agent_type: agentType, model};
    this.#labelled.set(key, labels);
    return labels;
  }

  /** The key retired: its labels, whose series the caller removes, or undefined when it was summed under _other. */
  forget(key: string): KeyLabels | undefined {
    const labels = this.#labelled.get(key);
    this.#labelled.delete(key);
    return labels;
  }
}
