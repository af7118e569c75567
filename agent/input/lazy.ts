/**
 * Inputs whose code is loaded when an instance starts, not when the registry is
 * read: the registry (inputs/index.ts) imports every input's definition, and a
 * definition is only its name, description and schema (config validation runs
 * before anything binds, so the schema is always loaded). An input that imports
 * large modules (worker threads, msgpack, undici, the Kubernetes client) builds
 * its instance through {@link lazyInput}, so an agent that does not configure it
 * never loads them (BENCHMARKS.md, "Load only what runs").
 */
import type { Input } from './contract.js';

/**
 * An Input whose implementation `load()` imports and builds on start(). stop()
 * is safe without start and waits for a start in progress; after a failed
 * start, the next start() loads again.
 */
export function lazyInput(load: () => Promise<Input>): Input {
  let inner: Promise<Input> | undefined;
  return {
    async start() {
      inner = load();
      await (await inner).start();
    },
    async stop() {
      const i = inner;
      if (!i) return;
      let input: Input;
      try {
        input = await i;
      } catch {
        return; // the module never loaded: nothing started
      }
      await input.stop();
    },
  };
}
