/**
 * Fast rotation while lines keep coming: 30 rotations at random moments,
 * several often between two looks of the tailer. Every line exactly once.
 * (Renames use kubelet-style sortable suffixes; copytruncate copies too.)
 * The first rotation waits until the tailer has read from the file: under load,
 * discovery could otherwise come after it and the first 300 lines were never
 * the tailer's to read (seen once: copytruncate, missing z-0..z-299).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../../../agent/config/schema.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { schema } from '../config.js';
import { createContainerLogs } from './logs.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { PodLogs, dockerLine } from '../testdata/logfiles.js';

async function rotateMany(mode: 'rename' | 'copytruncate' | 'docker'): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rot-'));
  const logs = new PodLogs(path.join(root, 'pods'));
  const id = 'abc123';
  const dir = mode === 'docker' ? path.join(root, '_docker', id) : logs.dir('ns', 'p', 'c');
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, mode === 'docker' ? `${id}-json.log` : '0.log');
  fs.writeFileSync(f, '');
  const append = (from: number, to: number) => {
    if (mode !== 'docker') return logs.appendLines(f, 'z-', from, to);
    let text = '';
    for (let i = from; i < to; i++) text += dockerLine(`z-${i}`);
    fs.appendFileSync(f, text);
  };
  const ctx = fakeCtx();
  const r = validate(schema, { enable_container_metric: false, enable_k8s_metric: false, pod_logs_dir: path.join(root, 'pods'), docker_logs_dir: path.join(root, '_docker'), logging_auto_multiline_detection: false });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const input = createContainerLogs(r.value, ctx);
  await input.start();
  try {
    let n = 0;
    for (let round = 0; round < 30; round++) {
      append(n, n + 300);
      n += 300;
      // Lines rotated away before the tailer first opens the file are not history it can know of
      // (DataKit does not read old rotations on first sight): let it follow the file before the first rotation.
      if (round === 0) await waitFor(() => ctx.points.length > 0, { timeoutMs: 10_000, what: 'the tailer following 0.log' });
      await new Promise((res) => setTimeout(res, Math.random() * 30)); // random moments, not a wait for a condition
      const rotated = path.join(dir, `0.log.20240501-${String(100000 + round)}`);
      if (mode === 'docker') {
        // docker json-file: <id>-json.log.1 is the newest rotated file, older ones shift up.
        for (let k = round; k >= 1; k--) fs.renameSync(`${f}.${k}`, `${f}.${k + 1}`);
        fs.renameSync(f, `${f}.1`);
      } else if (mode === 'copytruncate') {
        fs.copyFileSync(f, rotated);
        fs.truncateSync(f, 0);
      } else {
        fs.renameSync(f, rotated);
      }
      append(n, n + 100);
      n += 100;
      await new Promise((res) => setTimeout(res, Math.random() * 30));
    }
    const msgs = () => ctx.points.map((p) => String(p.fields.message));
    await waitFor(() => new Set(msgs()).size >= n, { timeoutMs: 15_000, what: `${n} distinct lines` }).catch(() => undefined);
    const counts = new Map<string, number>();
    for (const m of msgs()) counts.set(m, (counts.get(m) ?? 0) + 1);
    const missing = Array.from({ length: n }, (_, i) => `z-${i}`).filter((k) => !counts.has(k));
    const dups = [...counts].filter(([, c]) => c > 1).map(([k]) => k);
    expect({ missing: missing.slice(0, 5), dups: dups.slice(0, 5), total: msgs().length }).toEqual({ missing: [], dups: [], total: n });
  } finally {
    await input.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

describe('fast rotation', () => {
  it('by rename: nothing lost, nothing repeated', () => rotateMany('rename'));
  it('by copytruncate: nothing lost, nothing repeated', () => rotateMany('copytruncate'));
  it('docker json-file numbered rotation: nothing lost, nothing repeated', () => rotateMany('docker'));
});
