import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { MemoryGuard, cgroupMemoryLimit, memoryLimitFromEnv } from './memlimit.js';

describe('MemoryGuard', () => {
  it('turns overloaded above the limit and back below the resume mark (hysteresis)', async () => {
    let rss = 50;
    const reg = new Registry();
    const g = new MemoryGuard({ limitBytes: 100, sample: () => ({ rss, held: rss * 0.8 }), metrics: reg });
    g.sample();
    expect(g.overloaded()).toBe(false);
    rss = 101;
    g.sample();
    expect(g.overloaded()).toBe(true);
    rss = 95; // below the limit but above 90%: still overloaded
    g.sample();
    expect(g.overloaded()).toBe(true);
    rss = 89;
    g.sample();
    expect(g.overloaded()).toBe(false);
    expect(g.peak).toBe(101);
    const m = await reg.getSingleMetricAsString('telekit_memory_overload_total');
    expect(m).toMatch(/telekit_memory_overload_total 1/);
  });

  it('asks V8 to size its heap for memory above 40% of the limit, for speed again below 30%, and on stop', () => {
    let rss = 30;
    const modes: boolean[] = [];
    const g = new MemoryGuard({ limitBytes: 100, sample: () => ({ rss, held: 10 }), compact: (on) => modes.push(on) });
    g.sample();
    rss = 41;
    g.sample();
    rss = 35; // between the marks: stays
    g.sample();
    rss = 29;
    g.sample();
    rss = 70;
    g.sample();
    g.stop();
    expect(modes).toEqual([true, false, true, false]);
  });

  it('does not latch when RSS stays high but the process holds little (freed memory not returned to the OS)', () => {
    let m = { rss: 200, held: 90 };
    let gcs = 0;
    const g = new MemoryGuard({ limitBytes: 100, sample: () => m, gc: () => gcs++ });
    g.sample();
    expect(g.overloaded()).toBe(true);
    m = { rss: 180, held: 45 }; // RSS still high, held between the marks: stays overloaded
    g.sample();
    expect(g.overloaded()).toBe(true);
    expect(gcs).toBe(1); // one full GC right after tripping, then at most every 5 s
    g.sample();
    expect(gcs).toBe(1);
    m = { rss: 180, held: 30 }; // held below 40%: resumes although RSS is high
    g.sample();
    expect(g.overloaded()).toBe(false);
    m = { rss: 180, held: 45 }; // and does not trip again until held passes 50%
    g.sample();
    expect(g.overloaded()).toBe(false);
    m = { rss: 180, held: 55 };
    g.sample();
    expect(g.overloaded()).toBe(true);
  });

  it('samples on its own timer once started, and stop clears the state', async () => {
    let rss = 500;
    const g = new MemoryGuard({ limitBytes: 100, sample: () => ({ rss, held: rss }), intervalMs: 10 });
    g.start();
    expect(g.overloaded()).toBe(true);
    rss = 10;
    const t0 = Date.now();
    while (g.overloaded() && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(g.overloaded()).toBe(false);
    rss = 500;
    while (!g.overloaded() && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    g.stop();
    expect(g.overloaded()).toBe(false);
    g.stop();
  });

  it('is a no-op without a limit, and a throwing RSS source never throws', () => {
    const g = new MemoryGuard({ limitBytes: 0, sample: () => ({ rss: 1e12, held: 1e12 }) });
    g.start();
    expect(g.overloaded()).toBe(false);
    g.stop();
    const h = new MemoryGuard({ limitBytes: 10, sample: () => { throw new Error('x'); } });
    expect(() => h.sample()).not.toThrow();
  });
});

describe('memory limit settings', () => {
  it('reads ENV_MEMORY_LIMIT_MB, else 80% of the cgroup limit', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cg-'));
    expect(memoryLimitFromEnv({ ENV_MEMORY_LIMIT_MB: '512' }, root)).toBe(512 * 2 ** 20);
    expect(memoryLimitFromEnv({ ENV_MEMORY_LIMIT_MB: '0' }, root)).toBe(0);
    expect(() => memoryLimitFromEnv({ ENV_MEMORY_LIMIT_MB: 'lots' }, root)).toThrow(/ENV_MEMORY_LIMIT_MB/);
    expect(memoryLimitFromEnv({}, root)).toBe(0);
    fs.writeFileSync(path.join(root, 'memory.max'), '1073741824\n');
    expect(cgroupMemoryLimit(root)).toBe(2 ** 30);
    expect(memoryLimitFromEnv({}, root)).toBe(Math.floor(2 ** 30 * 0.8));
    fs.writeFileSync(path.join(root, 'memory.max'), 'max\n');
    expect(memoryLimitFromEnv({}, root)).toBe(0);
    fs.rmSync(root, { recursive: true });
  });
});
