// What each key of an actor thread batches with and calls: its model's backend client and batch
// settings, from the registry (an unlisted model, only served by an open registry, takes the
// defaults), its adaptive window (MAX_WAIT_MS=auto) and its fitted cost. Windows and cost fits
// outlive a key's actor, for up to 4,096 keys (least recently used forgotten first).

import type {BackendOptions, BatchingOptions} from '../src/config.ts';
import type {Registry} from '../src/registry.ts';
import type {ActorSettings} from './actor.ts';
import {backendId} from './backend/create.ts';
import type {BackendClients} from './backend/create.ts';
import {CostBook} from './cost-model.ts';
import {WaitWindow} from './wait-window.ts';

/** Adaptive windows kept per thread: keys beyond this start again from the initial window. */
const maxWindows = 4096;

export class KeySettings {
  /** Each key's adaptive window, kept across its actor's retirement (least recently used first). */
  readonly #windows = new Map<string, WaitWindow>();
  /** Each key's fitted backend cost (DESIGN §11) per backend it has used, kept the same way. */
  readonly #costs = new CostBook(maxWindows);

  /** A key's backend client, batching and (with MAX_WAIT_MS=auto) window, from the registry. */
  settingsOf(registry: Registry, backends: BackendClients, key: string, model: string): ActorSettings {
    const {backend, batching} = settingsIn(registry, model);
    let window: WaitWindow | undefined;
    if (batching.maxWaitMs === 'auto') {
      window = this.#windows.get(key);
      if (window) this.#windows.delete(key);
      else window = new WaitWindow(batching.waitFraction);
      this.#windows.set(key, window);
      if (this.#windows.size > maxWindows) this.#windows.delete(this.#windows.keys().next().value as string);
    }
    // A key whose model moved to another backend (SIGHUP) starts a new fit: the old backend's cost says nothing of it.
    return {
      backend: backends.get(backend),
      batching,
      window,
      cost: this.#costs.get(`${key}\n${backendId(backend)}`),
    };
  }

  /** The key's backend changed: its next actor starts a window afresh (the new backend's latency is its own). */
  forgetWindow(key: string): void {
    this.#windows.delete(key);
  }
}

/** A model's backend and batching; an unlisted model (only served by an open registry) takes the defaults. */
export function settingsIn(
  registry: Registry,
  model: string,
): {readonly backend: BackendOptions; readonly batching: BatchingOptions} {
  return registry.models?.get(model) ?? registry.defaults;
}

/** Every backend a registry names: its default and each model's. */
export function backendsOf(registry: Registry): BackendOptions[] {
  return [registry.defaults.backend, ...[...(registry.models?.values() ?? [])].map((m) => m.backend)];
}
