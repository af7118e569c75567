/**
 * Pipeline scripts of container logs in worker threads (script-pool.ts): the
 * lines are those the main thread writes, in the order read per stream;
 * positions advance only past lines the core acknowledged, also when the
 * input stops with batches at the workers; a reloaded script reaches the
 * workers; a line past its time bound in a worker goes out raw and is
 * counted; a worker that dies is replaced and its batch goes out raw, counted.
 *
 * The workers run dist/ (npm test builds first), as in production.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLines } from '../../../agent/model/lineproto.js';
import type { Input } from '../../../agent/input/contract.js';
import { Script } from '../../../agent/services/pipeline/script.js';
import { ScriptStore } from '../../../agent/services/pipeline/store.js';
import { cpuBudget, workerScript } from '../../../agent/services/threads.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { validConfig } from '../../../test/helpers/fake-context.js';
import { schema } from '../config.js';
import { createContainerLogs } from './logs.js';
import { LogLines } from './lines.js';
import { defaultScriptWorkers, ScriptThreads } from './script-pool.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { PodLogs, cri } from '../testdata/logfiles.js';

const started: Input[] = [];
const dirs: string[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.stop();
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

const WORKER = workerScript(new URL('./logs.ts', import.meta.url).href, 'script-worker');
const SCRIPT = 'grok(_, "%{WORD:kind}-%{INT:n:int}")\nif kind == "skip" { drop() }\n';

interface Got {
  /** Decoded lines, per addLinesWait call. */
  calls: { lines: string[]; ack: () => void }[];
}

function setup(script = SCRIPT, opts: { timeBoundMs?: number; workers?: number } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'script-pool-'));
  dirs.push(root);
  const logs = new PodLogs(root);
  const pdir = path.join(root, 'pipeline');
  fs.mkdirSync(pdir);
  fs.writeFileSync(path.join(pdir, 'app.p'), script);
  const store = new ScriptStore({ dir: pdir, log: pino({ level: 'silent' }), watch: false, workers: opts.workers ?? 2, ...(opts.timeBoundMs === undefined ? {} : { timeBoundMs: opts.timeBoundMs }) });
  store.load();
  expect(store.errors()).toEqual([]);
  return { root, logs, pdir, store, dataDir: fs.mkdtempSync(path.join(root, 'data-')) };
}

/** The container input in direct mode; `autoAck` false: the test acknowledges calls itself. */
async function start(s: ReturnType<typeof setup>, autoAck = true, readSize = 4096) {
  const ctx = Object.assign(fakeCtx(), { pipelines: s.store, dataDir: s.dataDir });
  const got: Got = { calls: [] };
  const acc = ctx.acc as unknown as Record<string, unknown>;
  acc.tagsToAdd = () => ({ host: 'node-1' });
  acc.takesLines = () => true;
  acc.addLinesWait = async (_c: string, data: Uint8Array, ends: ArrayLike<number>, o?: { onAck?: () => void }) => {
    const text = Buffer.from(data).toString('utf8', 0, ends[ends.length - 1]);
    const lines = text.split('\n').filter((l) => l !== '');
    const ack = () => o?.onAck?.();
    got.calls.push({ lines, ack });
    if (autoAck) ack();
  };
  const input = createContainerLogs(validConfig(schema, { enable_container_metric: false, enable_k8s_metric: false, pod_logs_dir: s.root, docker_logs_dir: path.join(s.root, '_docker'), logging_file_from_beginning: true, logging_auto_multiline_detection: false, logging_read_buffer_size: readSize }), ctx);
  started.push(input);
  await input.start();
  const all = () => got.calls.flatMap((c) => c.lines);
  const stop = async () => {
    await input.stop();
    started.splice(started.indexOf(input), 1);
  };
  return { ctx, got, all, stop };
}

const T = new Date('2024-05-01T10:20:30Z');
/** CRI lines `${prefix}${i}` for i in [from, to), all at T. */
function append(file: string, prefix: string, from: number, to: number, stream: 'stdout' | 'stderr' = 'stdout'): void {
  let s = '';
  for (let i = from; i < to; i++) s += cri(`${prefix}${i}`, stream, 'F', T);
  fs.appendFileSync(file, s);
}

const fields = (lines: string[]) => decodeLines(lines.join('\n') + '\n');

describe('Pipeline scripts in worker threads (container logs)', () => {
  it.skipIf(WORKER === undefined)('writes the lines the main thread writes, in order per stream, with two streams at once', async () => {
    const N = 3000;
    const write = (s: ReturnType<typeof setup>) => {
      for (const c of ['a', 'b']) {
        const f = path.join(s.logs.dir('ns', `web-${c}`, 'app'), '0.log');
        append(f, `${c}kind-`, 0, N, c === 'a' ? 'stdout' : 'stderr');
      }
    };
    const threaded = setup();
    write(threaded);
    const t = await start(threaded);
    await waitFor(() => t.all().length >= 2 * N, { timeoutMs: 30_000, what: 'lines through the workers' });
    expect((await t.ctx.metrics.getSingleMetric('telekit_container_log_script_workers')!.get()).values[0]!.value).toBeGreaterThan(0);
    await t.stop();
    const inline = setup(SCRIPT, { workers: -1 });
    write(inline);
    const i = await start(inline);
    await waitFor(() => i.all().length >= 2 * N, { timeoutMs: 30_000, what: 'lines on the main thread' });
    await i.stop();
    // same bytes but the file paths (each run has its own folder)
    const norm = (ls: string[], root: string) => ls.map((l) => l.split(root).join('<root>')).sort();
    expect(norm(t.all(), threaded.root)).toEqual(norm(i.all(), inline.root));
    const pts = fields(t.all());
    for (const c of ['a', 'b']) {
      const ns = pts.filter((p) => p.fields.kind === `${c}kind`).map((p) => Number(p.fields.n));
      expect(ns).toEqual(Array.from({ length: N }, (_, k) => k));
      const read = pts.filter((p) => p.fields.kind === `${c}kind`).map((p) => Number(p.fields.log_read_lines));
      expect(read).toEqual(Array.from({ length: N }, (_, k) => k + 1));
    }
    expect(threaded.store.get('logging', 'app.p')!.stats.lines).toBe(2 * N);
  });

  it.skipIf(WORKER === undefined)('resumes after a stop with batches at the workers from the last acknowledged line', async () => {
    const N = 4000;
    const s = setup();
    const f = path.join(s.logs.dir('ns', 'web-1', 'app'), '0.log');
    append(f, 'kind-', 0, N);
    const first = await start(s, false);
    // the core accepts batches but acknowledges only the first two; the input stops while others are out
    await waitFor(() => first.got.calls.length >= 2, { timeoutMs: 30_000, what: 'two batches' });
    first.got.calls[0]!.ack();
    first.got.calls[1]!.ack();
    const acked = first.got.calls[0]!.lines.length + first.got.calls[1]!.lines.length;
    await first.stop();
    // every later call was handed over (graceful stop) but not acknowledged
    expect(first.all().length).toBeGreaterThan(acked);
    // a new process: the positions on disk (in this one, the next tailer would go on from the handoff)
    const again = fs.mkdtempSync(path.join(s.root, 'data-'));
    fs.cpSync(path.join(s.dataDir, 'container'), path.join(again, 'container'), { recursive: true });
    s.dataDir = again;
    const second = await start(s);
    await waitFor(() => second.all().length >= N - acked, { timeoutMs: 30_000, what: `the rest (${second.all().length} of ${N - acked}, ${acked} acked of ${first.all().length})` });
    await second.stop();
    const ns = fields(second.all()).map((p) => Number(p.fields.n));
    expect(ns).toEqual(Array.from({ length: N - acked }, (_, k) => k + acked));
  });

  it.skipIf(WORKER === undefined)('runs a reloaded script in the workers from the next read', async () => {
    const s = setup();
    const f = path.join(s.logs.dir('ns', 'web-1', 'app'), '0.log');
    append(f, 'old-', 0, 10);
    const t = await start(s);
    await waitFor(() => t.all().length >= 10);
    fs.writeFileSync(path.join(s.pdir, 'app.p'), SCRIPT + 'add_key(version, "two")\n');
    s.store.load();
    append(f, 'new-', 0, 10);
    await waitFor(() => t.all().length >= 20);
    await t.stop();
    const pts = fields(t.all());
    expect(pts.filter((p) => p.fields.kind === 'old').every((p) => p.fields.version === undefined)).toBe(true);
    expect(pts.filter((p) => p.fields.kind === 'new').map((p) => p.fields.version)).toEqual(Array(10).fill('two'));
  });

  it.skipIf(WORKER === undefined)('sends a line past its time bound in a worker as it was, counted on the script', async () => {
    const s = setup('n = 0\nfor x in [1, 2, 3] { n = n + 1 }\nadd_key(parsed, true)\n', { timeBoundMs: -1 });
    const f = path.join(s.logs.dir('ns', 'web-1', 'app'), '0.log');
    append(f, 'INFO slow-', 0, 5);
    const t = await start(s);
    await waitFor(() => t.all().length >= 5);
    await t.stop();
    const pts = fields(t.all());
    expect(pts.map((p) => p.fields.message)).toEqual([0, 1, 2, 3, 4].map((i) => `INFO slow-${i}`));
    expect(pts.every((p) => p.fields.parsed === undefined && p.fields.status === 'info')).toBe(true);
    expect(s.store.get('logging', 'app.p')!.stats).toMatchObject({ lines: 5, timedOut: 5 });
  });

  it.skipIf(WORKER === undefined)('replaces a worker that dies; its batch goes out raw, counted', async () => {
    const script = Script.compile('app.p', 'app.p', SCRIPT);
    const crashes: Error[] = [];
    const pool = new ScriptThreads({ script: WORKER!, max: 1, onCrash: (e) => crashes.push(e) });
    let raw = 0;
    const lines = new LogLines('app', (stream) => Object.freeze({ stream }), { host: 'n' }, false, () => script, { pool, onRaw: (n) => (raw += n) });
    const sink = lines.sinkFor('/f');
    const feed = (from: number) => {
      lines.refresh();
      for (let i = from; i < from + 3; i++) {
        const b = Buffer.from(`kind-${i}`);
        sink.line(b, 0, b.length, { sec: 1_700_000_000 + i, ns: 5 }, 'stdout');
      }
      return lines.takeBatches();
    };
    try {
      const [b1] = feed(0);
      const p1 = lines.runBatch(b1!);
      pool.kill(0); // the batch is out at the only worker
      const r1 = await p1;
      expect(crashes).toHaveLength(1);
      expect(raw).toBe(3);
      const got1 = decodeLines(Buffer.from(r1.data).toString('utf8', 0, r1.ends[r1.ends.length - 1]));
      expect(got1.map((p) => [p.fields.message, p.fields.kind, p.fields.log_read_lines, p.time])).toEqual([0, 1, 2].map((i) => [`kind-${i}`, undefined, BigInt(i + 1), BigInt(1_700_000_000 + i) * 1_000_000_000n + 5n]));
      // a new worker takes the next batch
      const [b2] = feed(3);
      const r2 = await lines.runBatch(b2!);
      const got2 = decodeLines(Buffer.from(r2.data).toString('utf8', 0, r2.ends[r2.ends.length - 1]));
      expect(got2.map((p) => [p.fields.kind, p.fields.n, p.fields.log_read_lines])).toEqual([3, 4, 5].map((i) => ['kind', BigInt(i), BigInt(i + 1)]));
      expect(pool.count).toBe(1);
      expect(raw).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it.skipIf(WORKER === undefined)('gives a result\'s buffer back to the worker once its lines were copied; the worker writes its next lines into it', async () => {
    const script = Script.compile('app.p', 'app.p', SCRIPT);
    const pool = new ScriptThreads({ script: WORKER!, max: 1, onCrash: () => undefined });
    const lines = new LogLines('app', (stream) => Object.freeze({ stream }), { host: 'n' }, false, () => script, { pool, onRaw: () => undefined });
    const sink = lines.sinkFor('/f');
    const batch = (i: number) => {
      lines.refresh();
      const b = Buffer.from(`kind-${i}`);
      sink.line(b, 0, b.length, { sec: 1_700_000_000 + i, ns: 0 }, 'stdout');
      return lines.takeBatches()[0]!;
    };
    try {
      let reused = 0;
      let r = await lines.runBatch(batch(0));
      for (let i = 1; i <= 4; i++) {
        // marked past its lines: the mark is still there when the worker wrote the next lines into the same memory
        const mem = new Uint8Array(r.data.buffer);
        mem[mem.length - 1] = 0xab;
        r.recycle!();
        r = await lines.runBatch(batch(i));
        if (new Uint8Array(r.data.buffer).at(-1) === 0xab) reused++;
        const got = decodeLines(Buffer.from(r.data).toString('utf8', 0, r.ends[r.ends.length - 1]));
        expect(got.map((p) => [p.fields.kind, p.fields.n])).toEqual([['kind', BigInt(i)]]);
      }
      expect(reused).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it('starts one script worker per CPU the pod may use (its CPU quota, not the node\'s CPUs), at most 4', () => {
    expect([1, 2, 3, 4, 8, 64].map((n) => defaultScriptWorkers(n))).toEqual([1, 2, 3, 4, 4, 4]);
    // a DaemonSet pod limited to 1 CPU on a 16-CPU node
    expect(defaultScriptWorkers(cpuBudget(16, (f) => (f === '/sys/fs/cgroup/cpu.max' ? '100000 100000\n' : undefined)))).toBe(1);
  });

  it('ends a worker that does not answer a batch in time; the batch goes out raw', async () => {
    // a worker that takes batches and never answers
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'script-pool-mute-'));
    dirs.push(dir);
    const mute = path.join(dir, 'mute.mjs');
    fs.writeFileSync(mute, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n");
    const script = Script.compile('app.p', 'app.p', SCRIPT, { timeBoundMs: 0 });
    const crashes: Error[] = [];
    const pool = new ScriptThreads({ script: new URL(`file://${mute}`), max: 1, jobTimeoutMs: 100, onCrash: (e) => crashes.push(e) });
    let raw = 0;
    const lines = new LogLines('app', (stream) => Object.freeze({ stream }), { host: 'n' }, false, () => script, { pool, onRaw: (n) => (raw += n) });
    const b = Buffer.from('kind-1');
    lines.sinkFor('/f').line(b, 0, b.length, { sec: 1_700_000_000, ns: 0 }, 'stdout');
    try {
      const r = await lines.runBatch(lines.takeBatches()[0]!);
      expect(crashes.map((e) => e.message)).toEqual(['script worker did not answer a batch of 1 lines within 100 ms']);
      expect(raw).toBe(1);
      expect(decodeLines(Buffer.from(r.data).toString('utf8', 0, r.ends[0])).map((p) => p.fields.message)).toEqual(['kind-1']);
      expect(pool.count).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it.skipIf(WORKER === undefined)('stops reading while the core has not accepted the batches out (back-pressure, no unbounded buffering)', async () => {
    const s = setup();
    const f = path.join(s.logs.dir('ns', 'web-1', 'app'), '0.log');
    append(f, 'kind-', 0, 2000); // ~100 KB: ~25 reads of 4 KiB
    const ctx = Object.assign(fakeCtx(), { pipelines: s.store, dataDir: s.dataDir });
    const acc = ctx.acc as unknown as Record<string, unknown>;
    const held: (() => void)[] = [];
    let release = false;
    let calls = 0;
    let firstLines = 0;
    acc.tagsToAdd = () => ({ host: 'node-1' });
    acc.takesLines = () => true;
    // the core takes nothing until released
    acc.addLinesWait = (_c: string, _d: Uint8Array, e: ArrayLike<number>, o?: { onAck?: () => void }) => {
      if (++calls === 1) firstLines = e.length;
      o?.onAck?.();
      return release ? Promise.resolve() : new Promise<void>((r) => held.push(r));
    };
    const input = createContainerLogs(validConfig(schema, { enable_container_metric: false, enable_k8s_metric: false, pod_logs_dir: s.root, docker_logs_dir: path.join(s.root, '_docker'), logging_file_from_beginning: true, logging_auto_multiline_detection: false, logging_read_buffer_size: 4096 }), ctx);
    started.push(input);
    await input.start();
    const script = s.store.get('logging', 'app.p')!;
    const releaseAll = () => {
      release = true;
      for (const r of held.splice(0)) r();
    };
    try {
      // the first batch is at the core; the second came back from a worker (it may have before the first reached the core)
      await waitFor(() => calls === 1 && held.length === 1, { what: 'the first batch at the core' });
      await waitFor(() => script.stats.lines > firstLines, { what: 'the second batch back from a worker' });
      const bytes = (await ctx.metrics.getSingleMetric('telekit_container_log_bytes_total')!.get()).values[0]!.value;
      // two reads, then the tailer waits for the core: nothing more read, nothing buffered
      expect(bytes).toBeLessThanOrEqual(2 * 4096);
      expect(calls).toBe(1);
    } finally {
      releaseAll();
    }
    await waitFor(() => script.stats.lines >= 2000, { what: 'the rest once released' });
  });
});
