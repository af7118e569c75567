/**
 * The trace worker pool with a worker script of the test's own (a decoder
 * that can be told to crash or to be slow), run from the compiled dist/
 * (`npm test` builds first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/wait.js';
import { defaultTraceOptions } from './options.js';
import { HAND_OVER_MIN, TraceThreads, defaultWorkers, workerLimits, type JobResult } from './offthread.js';
import { cgroupCpus, cpuBudget, cpuLimit } from '../threads.js';

const dist = path.resolve(import.meta.dirname, '../../../dist/agent/services/trace/offthread.js');
const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trace-worker-')), 'worker.mjs');
fs.writeFileSync(
  script,
  `import { serveTraceJobs } from ${JSON.stringify(pathToFileURL(dist).href)};
serveTraceJobs(() => (req) => {
  if (req.route === '/crash') process.exit(3);
  if (req.route === '/slow') { const t = Date.now(); while (Date.now() - t < 200); }
  const span = { traceId: '1', spanId: String(req.body.length), parentId: '0', service: 's', operation: 'op', resource: 'r', sourceType: 'web', spanType: '', startUs: 1, durationUs: 2, error: false, tags: {}, message: req.body.toString() };
  return { traces: [[span]], dropped: { sampled: 1 } };
});
`,
);

const req = (route: string, body = 'hello "x"') => ({ route, contentType: '', headers: {}, body: Buffer.from(body) });
const text = (r: JobResult) => (r.kind === 'ok' ? Buffer.from(r.data).toString() : r.kind);

let threads: TraceThreads | undefined;
afterEach(async () => {
  await threads?.close(0);
  threads = undefined;
});

describe('TraceThreads', () => {
  const start = (errors: Error[] = []) => (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 1, 4, (e) => errors.push(e)));

  it('decodes, maps and encodes in the worker, with the core tags where a point lacks them', async () => {
    const t = start();
    const r = await t.run(req('/x'), { host: 'h1', service: 'not-this-one' });
    expect(r.kind).toBe('ok');
    expect(text(r)).toMatch(/^zipkin,service=s,source=zipkin,operation=op,source_type=web,span_type=entry,status=ok,host=h1 trace_id="1",span_id="9",parent_id="0",resource="r",start=1i,duration=2i,message="hello \\"x\\"" 1000\n$/);
    expect(r.kind === 'ok' && r.dropped).toEqual({ sampled: 1 });
  });

  it('gives the lines back in shared memory, transferring nothing out of the worker (a detached buffer slows its typed arrays), also when they outgrew the buffer', async () => {
    const t = start();
    const r1 = await t.run(req('/x'), {});
    expect(r1.kind === 'ok' && r1.data.buffer instanceof SharedArrayBuffer).toBe(true);
    t.recycle(r1.kind === 'ok' ? r1.data : new Uint8Array());
    // a message longer than the first buffer (256 KiB): LineBuf grows into ordinary memory, and the lines are copied back
    const long = 'y'.repeat(300 << 10);
    const r2 = await t.run(req('/x', long), {});
    expect(r2.kind === 'ok' && r2.data.buffer instanceof SharedArrayBuffer).toBe(true);
    expect(text(r2)).toContain(`span_id="${long.length}"`);
    expect(text(r2).endsWith(`message="${long}" 1000\n`)).toBe(true);
    expect(r2.kind === 'ok' && Array.from(r2.ends)).toEqual([r2.kind === 'ok' ? r2.data.length : -1]);
    const r3 = await t.run(req('/x'), {});
    expect(text(r3)).toContain('message="hello \\"x\\""');
  });

  it('hands a large body that owns its memory (behind at most a short prefix) to the worker without a copy, and copies one that shares it', async () => {
    const t = start();
    const big = 'a'.repeat(HAND_OVER_MIN);
    const owned = { ...req('/x'), body: Buffer.allocUnsafe(big.length + 1) };
    owned.body.write(`${big}b`);
    const r1 = await t.run(owned, {});
    expect(text(r1)).toContain(`span_id="${big.length + 1}"`);
    expect(text(r1)).toContain(`${big}b"`);
    expect(owned.body.length).toBe(0); // transferred: detached here
    // a view into a larger buffer: the rest of that buffer is someone else's, so it is copied and stays readable
    const whole = Buffer.from(`${big}c-and-more`);
    const slice = { ...req('/x'), body: whole.subarray(0, big.length + 1) };
    const r2 = await t.run(slice, {});
    expect(text(r2)).toContain(`${big}c"`);
    expect(whole.toString()).toBe(`${big}c-and-more`);
    expect(slice.body.length).toBe(big.length + 1);
    // the tail of one allocation behind a short prefix (grpc-js's framed message): transferred, read from its offset
    const framed = Buffer.allocUnsafe(5 + big.length + 1);
    framed.write(`12345${big}d`);
    const tail = { ...req('/x'), body: framed.subarray(5) };
    const r3 = await t.run(tail, {});
    expect(text(r3)).toContain(`span_id="${big.length + 1}"`);
    expect(text(r3)).toContain(`message="${big}d"`);
    expect(framed.length).toBe(0);
  });

  it('answers unavailable (a 503 upstream) when a worker dies, and replaces it', async () => {
    const errors: Error[] = [];
    const t = start(errors);
    expect((await t.run(req('/crash'), {})).kind).toBe('unavailable');
    expect(errors.some((e) => /exited/.test(e.message))).toBe(true);
    expect(text(await t.run(req('/x', 'again'), {}))).toContain('message="again"');
  });

  it('lets jobs in flight finish on close', async () => {
    const t = start();
    const slow = t.run(req('/slow'), {});
    await t.close();
    threads = undefined;
    expect((await slow).kind).toBe('ok');
  });

  it('is busy once every worker has its backlog', async () => {
    const t = start();
    const jobs = [0, 1, 2, 3].map(() => t.run(req('/slow'), {}));
    expect(t.busy()).toBe(true);
    await Promise.all(jobs);
    expect(t.busy()).toBe(false);
  });

  it('starts workers as requests come, another only while every one is behind (a job waiting), up to the most', async () => {
    const counts: number[] = [];
    const t = (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 2, 4, () => {}, (n) => counts.push(n)));
    expect(t.count).toBe(0);
    await t.run(req('/x'), {});
    await t.run(req('/x'), {});
    expect(t.count).toBe(1); // one at a time: the first worker was always free
    await Promise.all([0, 1].map(() => t.run(req('/slow'), {})));
    expect(t.count).toBe(1); // one job waiting behind one running: not yet behind
    await Promise.all([0, 1, 2, 3, 4].map(() => t.run(req('/slow'), {})));
    expect(t.count).toBe(2);
    expect(counts).toEqual([1, 2]);
  });
});

describe('spare buffers', () => {
  it('go back to the worker whose lines they held, which writes its next lines into them', async () => {
    const t = (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 2, 4, () => {}, () => {}, 0));
    await Promise.all([0, 1, 2, 3, 4].map(() => t.run(req('/slow'), {})));
    expect(t.count).toBe(2);
    // one job at a time: the first worker takes every one; each result's buffer is marked past its lines, given back, and
    // the next result is in the same memory when the spare went to that worker (not round the two)
    let reused = 0;
    let r = await t.run(req('/x'), {});
    for (let i = 0; i < 6; i++) {
      if (r.kind !== 'ok') throw new Error(r.kind);
      const mem = new Uint8Array(r.data.buffer);
      mem[mem.length - 1] = 0xab;
      t.recycle(r.data);
      r = await t.run(req('/x'), {});
      if (r.kind === 'ok' && new Uint8Array(r.data.buffer).at(-1) === 0xab) reused++;
    }
    expect(reused).toBe(6);
  });
});

describe('idle workers', () => {
  it('end after idleMs without a job, without an error, and the next request starts another', async () => {
    const counts: number[] = [];
    const errors: Error[] = [];
    const t = (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 2, 4, (e) => errors.push(e), (n) => counts.push(n), 100));
    await Promise.all([0, 1, 2].map(() => t.run(req('/slow'), {})));
    await waitFor(() => t.count === 0, { what: 'idle workers to end' });
    expect(counts.slice(0, 2)).toEqual([1, 2]);
    expect(counts.at(-1)).toBe(0); // 2 → 0, or 2 → 1 → 0 as each one idles
    expect(text(await t.run(req('/x', 'after'), {}))).toContain('message="after"');
    expect(t.count).toBe(1);
    expect(errors).toEqual([]);
  });

  it('are not kept busy by a load the first worker keeps up with: jobs fill the first worker, the second idles and ends', async () => {
    const counts: number[] = [];
    const t = (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 2, 4, () => {}, (n) => counts.push(n), 100));
    await Promise.all([0, 1, 2, 3].map(() => t.run(req('/slow'), {})));
    expect(counts.slice(0, 2)).toEqual([1, 2]); // (the second may have idled out already: the loop below would start it again if pairs needed it)
    // two requests in flight at a time, as long as it takes (at most 5 s): the second worker gets none and ends
    const until = Date.now() + 5000;
    while (t.count > 1 && Date.now() < until) {
      const rs = await Promise.all([t.run(req('/x'), {}), t.run(req('/x'), {})]);
      expect(rs.every((r) => r.kind === 'ok')).toBe(true);
    }
    expect(t.count).toBe(1);
    expect(counts.filter((n) => n === 2)).toHaveLength(1); // never started again
  });

  it('keep a worker that has a job', async () => {
    const t = (threads = new TraceThreads(pathToFileURL(script), { source: 'zipkin', opts: defaultTraceOptions(), config: {}, format: 'lp' as const }, 1, 4, () => {}, () => {}, 50));
    const jobs = Array.from({ length: 6 }, () => t.run(req('/slow'), {})); // ~1.2 s of work on one worker, 24 idle periods
    expect((await Promise.all(jobs)).every((r) => r.kind === 'ok')).toBe(true);
  });
});

describe('worker isolates', () => {
  it('get a small young generation unless a container limit of 1 GiB or less already sizes them', () => {
    expect(workerLimits(0)).toEqual({ maxYoungGenerationSizeMb: 6 }); // no cgroup limit
    expect(workerLimits(2 ** 64)).toEqual({ maxYoungGenerationSizeMb: 6 }); // "unlimited"
    expect(workerLimits(8 * 2 ** 30)).toEqual({ maxYoungGenerationSizeMb: 6 });
    expect(workerLimits(512 * 2 ** 20)).toEqual({}); // Node's own sizing gives 1 MiB semi-spaces there
  });
});

describe('default worker count', () => {
  it('is one per two CPUs the process may use, at least one, at most four', () => {
    // a second isolate on a 2-CPU node added no spans/s at saturation and ~15-30 MiB of RSS (BENCHMARKS.md, Traces, session 11)
    expect([1, 2, 3, 4, 5, 8, 16, 64].map((n) => defaultWorkers(n))).toEqual([1, 1, 1, 2, 2, 4, 4, 4]);
  });

  it("counts the cgroup's CPU quota, which libuv 1.46 does not (a pod limited to 1 CPU on a 16-CPU node)", () => {
    expect(cgroupCpus('max 100000\n')).toBeUndefined();
    expect(cgroupCpus('100000 100000\n')).toBe(1);
    expect(cgroupCpus('150000 100000')).toBe(2);
    expect(cgroupCpus('50000 100000')).toBe(1);
    expect(cgroupCpus(undefined, '-1\n', '100000\n')).toBeUndefined();
    expect(cgroupCpus(undefined, '400000\n', '100000\n')).toBe(4);
    expect(cgroupCpus(undefined, undefined, undefined)).toBeUndefined();
    expect(cgroupCpus('garbage')).toBeUndefined();
    const files = (f: Record<string, string>) => (file: string) => f[file];
    expect(cpuBudget(16, files({ '/sys/fs/cgroup/cpu.max': '100000 100000\n' }))).toBe(1);
    expect(cpuBudget(16, files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(3);
    expect(cpuBudget(2, files({ '/sys/fs/cgroup/cpu.max': '800000 100000' }))).toBe(2); // the quota does not add CPUs
    expect(cpuBudget(8, files({}))).toBe(8);
    expect(defaultWorkers(cpuBudget(16, files({ '/sys/fs/cgroup/cpu.max': '100000 100000' })))).toBe(1);
    // the CPU time per second, unrounded (the dataway's busy gzip level measures against it)
    expect(cpuLimit(16, files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }))).toBe(0.5);
    expect(cpuBudget(16, files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }))).toBe(1);
    expect(cpuLimit(2, files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }))).toBe(2);
    expect(cpuLimit(4, files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '250000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(2.5);
  });
});
