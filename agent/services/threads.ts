/**
 * What worker threads of inputs share (trace decoding, container log scripts):
 * where an input's compiled worker script is, and V8 limits for a worker.
 * Small on purpose: an input that may start workers imports this, not the
 * code of other workers.
 */
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Each worker is a V8 isolate of its own. Node sizes an isolate's heap from the
 * container's memory limit (cgroup), so in a pod limited to 1 GiB or less a
 * worker's young generation is already small (1 MiB semi-spaces at 512 MiB);
 * without such a limit it gets 16 MiB semi-spaces like a server's main thread.
 * A job's objects live for one request, so a 6 MiB young generation (2 MiB
 * semi-spaces) collects them as well: under trace load it took ~35 MiB off the
 * agent's peak RSS with two workers (BENCHMARKS.md, "Memory: load only what
 * runs, V8's budgets"). The old generation keeps Node's default. Workers whose
 * objects outlive a job (metrics, logs, scripts) pass a larger `youngMb`.
 */
export function workerLimits(constrained = process.constrainedMemory?.() ?? 0, youngMb = 6): { maxYoungGenerationSizeMb?: number } {
  const limited = constrained > 0 && constrained <= 2 ** 30;
  return limited ? {} : { maxYoungGenerationSizeMb: youngMb };
}

/**
 * The worker script of an input: compiled JavaScript beside the input's
 * module. Under the test runner the input's module is TypeScript source, so
 * the compiled copy in dist/ is used (`npm test` builds first); undefined
 * when there is none, and the input then decodes on the main thread.
 * Where the build bundled that script (dist/bundle/workers/inputs/…, by
 * scripts/bundle.mjs), the bundle runs instead: a worker isolate then loads
 * one file, not the script's ~40 modules (~2 MiB less per worker).
 */
export function workerScript(moduleUrl: string, name: string): URL | undefined {
  let url = new URL(`./${name}.js`, moduleUrl);
  if (moduleUrl.endsWith('.ts')) {
    const here = fileURLToPath(moduleUrl);
    const i = here.lastIndexOf('/inputs/');
    if (i < 0) return undefined;
    url = new URL(`file://${here.slice(0, i)}/dist${here.slice(i, here.lastIndexOf('/'))}/${name}.js`);
  }
  const file = fileURLToPath(url);
  const d = file.lastIndexOf('/dist/inputs/');
  if (d >= 0) {
    const bundled = `${file.slice(0, d)}/dist/bundle/workers${file.slice(d + 5)}`;
    if (fs.existsSync(bundled)) return pathToFileURL(bundled);
  }
  return fs.existsSync(file) ? url : undefined;
}

