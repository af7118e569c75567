/**
 * What worker threads of inputs share (trace decoding, container log scripts):
 * where an input's compiled worker script is, and V8 limits for a worker.
 * Small on purpose: an input that may start workers imports this, not the
 * code of other workers.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerLimits(constrained = process.constrainedMemory?.() ?? 0): { maxYoungGenerationSizeMb?: number } {
  const limited = constrained > 0 && constrained <= 2 ** 30;
  return limited ? {} : { maxYoungGenerationSizeMb: 6 };
}

/**
 * The worker script of an input: compiled JavaScript beside the input's
 * module. Under the test runner the input's module is TypeScript source, so
 * the compiled copy in dist/ is used (`npm test` builds first); undefined
 * when there is none, and the input then decodes on the main thread.
 */
export function workerScript(moduleUrl: string, name: string): URL | undefined {
  let url = new URL(`./${name}.js`, moduleUrl);
  if (moduleUrl.endsWith('.ts')) {
    const here = fileURLToPath(moduleUrl);
    const i = here.lastIndexOf('/inputs/');
    if (i < 0) return undefined;
    url = new URL(`file://${here.slice(0, i)}/dist${here.slice(i, here.lastIndexOf('/'))}/${name}.js`);
  }
  return fs.existsSync(fileURLToPath(url)) ? url : undefined;
}

