/**
 * A full garbage collection on request, when the runtime allows one (without
 * --expose-gc it is enabled at first use). For the rare moments when a
 * component knows it has just let go of a large part of the heap at once (a
 * StatsD flush after a cardinality flood, the memory guard while it sheds
 * load): V8 sizes its next major GC from the heap it saw at the last one, so
 * after a burst the dead objects could otherwise hold hundreds of MiB of RSS
 * until the heap grows further. Rate-limited process-wide.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFn: (() => void) | undefined | null;
let last = 0;

/** Runs a full GC unless one ran in the last `minIntervalMs`; returns whether it ran. */
export function collectGarbage(minIntervalMs = 0): boolean {
  const now = Date.now();
  if (now - last < minIntervalMs) return false;
  if (gcFn === undefined) {
    try {
      const g = (globalThis as { gc?: () => void }).gc;
      if (g) gcFn = g;
      else {
        v8.setFlagsFromString('--expose-gc');
        gcFn = vm.runInNewContext('gc') as () => void;
      }
    } catch {
      gcFn = null;
    }
  }
  if (!gcFn) return false;
  last = now;
  gcFn();
  return true;
}
