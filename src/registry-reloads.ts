// SIGHUP, for every role that serves a registry (one process, a gateway, an actor host): MODELS_FILE
// read again and its onnx models checked (onnx-models.ts), one reload at a time. A valid file is
// handed to `apply`; a refused one is one error line, and the old registry stays.

import type {Logger} from 'pino';
import type {Config} from './config.ts';
import {checkModels} from './onnx-models.ts';
import {loadRegistry} from './registry.ts';
import type {Registry} from './registry.ts';

export class RegistryReloads {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #apply: (registry: Registry) => unknown;
  #last: Promise<unknown> = Promise.resolve();

  constructor(config: Config, log: Logger, apply: (registry: Registry) => unknown) {
    this.#config = config;
    this.#log = log;
    this.#apply = apply;
  }

  /** Resolves true once a valid file is applied, false when there is none or it is refused. */
  reload(): Promise<boolean> {
    // One reload at a time: a second SIGHUP's check cannot finish first and be overwritten by the first's.
    const run = this.#last.then(() => this.#reload());
    this.#last = run.catch(() => false);
    return run;
  }

  async #reload(): Promise<boolean> {
    if (!this.#config.modelsFile) {
      this.#log.warn('SIGHUP: no MODELS_FILE is set; nothing to reload');
      return false;
    }
    let next: Registry;
    try {
      next = await checkModels(loadRegistry(this.#config));
    } catch (error) {
      this.#log.error({reason: (error as Error).message}, 'model registry reload refused; the old registry stays');
      return false;
    }
    await this.#apply(next);
    this.#log.info({models: [...(next.models?.keys() ?? [])]}, 'model registry reloaded');
    return true;
  }
}
