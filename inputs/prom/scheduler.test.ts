import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.js';
import { Scheduler, type Job } from './scheduler.js';

function blockingJob(key: string, intervalMs: number, state: { running: number; max: number; runs: number; release: (() => void)[] }): Job {
  return {
    key,
    intervalMs,
    run: () =>
      new Promise<void>((resolve) => {
        state.running++;
        state.runs++;
        state.max = Math.max(state.max, state.running);
        state.release.push(() => {
          state.running--;
          resolve();
        });
      }),
  };
}

describe('Scheduler', () => {
  it('never runs more than maxConcurrent jobs and counts overruns', async () => {
    const state = { running: 0, max: 0, runs: 0, release: [] as (() => void)[] };
    let overruns = 0;
    const s = new Scheduler(3, { onOverrun: () => overruns++ });
    for (let i = 0; i < 10; i++) s.add(blockingJob(`j${i}`, 50, state), 10);
    await waitFor(() => overruns >= 5, { what: 'overruns while blocked' });
    expect(state.running).toBe(3);
    expect(state.max).toBe(3);
    // release everything: the queued jobs run, still three at a time
    while (state.runs < 10) {
      state.release.splice(0).forEach((r) => r());
      await waitFor(() => state.running > 0 || state.runs >= 10);
    }
    expect(state.max).toBe(3);
    state.release.splice(0).forEach((r) => r());
    await s.stop();
    state.release.splice(0).forEach((r) => r());
  });

  it('keeps the cadence, replaces jobs by key, pauses and resumes, and stops', async () => {
    const runs = new Map<string, number>();
    const job = (key: string, intervalMs: number): Job => ({ key, intervalMs, run: async () => void runs.set(key, (runs.get(key) ?? 0) + 1) });
    const s = new Scheduler(4);
    s.add(job('a', 40), 5);
    await waitFor(() => (runs.get('a') ?? 0) >= 3, { what: 'three runs' });
    s.add(job('a', 40), 5); // replace
    expect(s.size).toBe(1);
    s.pause();
    const n = runs.get('a')!;
    await new Promise((r) => setTimeout(r, 150));
    expect(runs.get('a')).toBe(n);
    s.resume();
    await waitFor(() => runs.get('a')! > n, { what: 'resumed' });
    s.remove('a');
    expect(s.has('a')).toBe(false);
    await s.stop();
    s.add(job('b', 10), 1); // ignored after stop
    expect(s.size).toBe(0);
  });
});
