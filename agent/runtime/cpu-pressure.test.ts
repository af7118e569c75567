import { describe, expect, it } from 'vitest';
import { CpuPressure } from './cpu-pressure.js';

/** A clock and a CPU counter the test moves: `spend(ms, cores)` passes `ms` of wall time at `cores` CPUs busy. */
function fake() {
  let now = 0;
  let cpuUs = 0;
  return {
    now: () => now,
    cpuMicros: () => cpuUs,
    spend(ms: number, cores: number) {
      now += ms;
      cpuUs += ms * 1000 * cores;
    },
  };
}

describe('CpuPressure', () => {
  it('is busy once a sample shows 60 % of the CPUs used, and stays busy until the share falls under 45 %', () => {
    const f = fake();
    const p = new CpuPressure({ cpus: 2, now: f.now, cpuMicros: f.cpuMicros });
    expect(p.busy()).toBe(false);
    f.spend(300, 1.1); // 55 %
    expect(p.busy()).toBe(false);
    f.spend(300, 1.3); // 65 %
    expect(p.busy()).toBe(true);
    f.spend(300, 1.0); // 50 %: the cheaper work while busy does not end the spell
    expect(p.busy()).toBe(true);
    f.spend(300, 0.8); // 40 %
    expect(p.busy()).toBe(false);
    f.spend(300, 1.0); // 50 %: not enough to enter again
    expect(p.busy()).toBe(false);
  });

  it('samples at most once per window, and averages over a quiet spell', () => {
    const f = fake();
    const p = new CpuPressure({ cpus: 1, windowMs: 250, now: f.now, cpuMicros: f.cpuMicros });
    f.spend(100, 1);
    expect(p.busy()).toBe(false); // 100 ms: too short a sample, the state stays
    f.spend(200, 1);
    expect(p.busy()).toBe(true); // 300 ms at a whole CPU
    f.spend(100, 0);
    expect(p.busy()).toBe(true); // within the window: no new sample
    f.spend(10_000, 0.01);
    expect(p.busy()).toBe(false); // 10 s nearly idle since the last sample
  });

  it('measures against a fractional CPU limit (a pod limited to 500m)', () => {
    const f = fake();
    const p = new CpuPressure({ cpus: 0.5, now: f.now, cpuMicros: f.cpuMicros });
    f.spend(1000, 0.35); // 70 % of half a CPU
    expect(p.busy()).toBe(true);
  });
});
