/**
 * What worker threads of inputs share (trace decoding, container log scripts):
 * where an input's compiled worker script is, and V8 limits for a worker.
 * Small on purpose: an input that may start workers imports this, not the
 * code of other workers.
 */
import fs from 'node:fs';
import os from 'node:os';
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
 * The CPUs a cgroup's quota allows, from cgroup v2's `cpu.max` ("max 100000",
 * "150000 100000") or v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us` (-1: no
 * quota), rounded up; undefined without a quota or when the text says nothing.
 */
export function cgroupCpus(cpuMax?: string, v1Quota?: string, v1Period?: string): number | undefined {
  const q = cgroupQuota(cpuMax, v1Quota, v1Period);
  return q === undefined ? undefined : Math.max(1, Math.ceil(q));
}

/** The quota as a fraction of CPUs (0.5 for "50000 100000"), not rounded. */
function cgroupQuota(cpuMax?: string, v1Quota?: string, v1Period?: string): number | undefined {
  const [q, p] = cpuMax !== undefined ? cpuMax.trim().split(/\s+/) : [v1Quota?.trim(), v1Period?.trim()];
  const quota = Number(q);
  const period = Number(p);
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/**
 * The CPU time this process may use per second of wall time: the CPUs it may
 * run on (affinity), less when its cgroup has a CPU quota (0.5 for a pod
 * limited to 500m). libuv 1.46 (Node 20) reads only the affinity, so a
 * DaemonSet pod limited to 1 CPU on a 16-CPU node sees 16 there.
 */
export function cpuLimit(parallelism = os.availableParallelism(), read: (file: string) => string | undefined = readSmall): number {
  const quota = cgroupQuota(read('/sys/fs/cgroup/cpu.max'), read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us'), read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us'));
  return Math.min(parallelism, quota ?? parallelism);
}

/** The CPUs this process may use, as a whole number of threads worth starting: cpuLimit() rounded up, at least 1. */
export function cpuBudget(parallelism = os.availableParallelism(), read: (file: string) => string | undefined = readSmall): number {
  return Math.max(1, Math.ceil(cpuLimit(parallelism, read)));
}

function readSmall(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
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

