/**
 * Container log tailing end to end: real files under a temp pod_logs_dir, an
 * in-process agent, every line counted at the test dataway.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { PodLogs, containerConf, cri } from '../../inputs/container/testdata/logfiles.js';

const running: TestAgent[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function agentFor(root: string, extra = '', o: { dataway?: TestDataway; dataDir?: string } = {}): Promise<TestAgent> {
  const a = await startTestAgent({ conf: { 'container/container.conf': containerConf(root, extra) }, ...o });
  running.push(a);
  return a;
}

/** A fresh pod_logs_dir holding one container's empty live file `0.log`. */
function emptyLog(): { root: string; logs: PodLogs; dir: string; f: string } {
  const root = tempDir('logs-');
  const logs = new PodLogs(root);
  const dir = logs.dir('ns', 'p', 'c');
  const f = path.join(dir, '0.log');
  fs.writeFileSync(f, '');
  return { root, logs, dir, f };
}

function messages(dw: TestDataway, source?: string): string[] {
  return dw.points('logging', source).map((p) => String(p.fields.message));
}

/** Waits until the messages with `prefix` are exactly 0..n-1, each once. */
async function expectExactly(dw: TestDataway, prefix: string, n: number): Promise<void> {
  await waitFor(() => messages(dw).filter((m) => m.startsWith(prefix)).length >= n, { timeoutMs: 15_000, what: `${n} ${prefix} lines` });
  const got = messages(dw).filter((m) => m.startsWith(prefix));
  const counts = new Map<string, number>();
  for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
  const dups = [...counts].filter(([, c]) => c > 1).map(([k]) => k);
  const missing = Array.from({ length: n }, (_, i) => `${prefix}${i}`).filter((k) => !counts.has(k));
  expect({ dups: dups.slice(0, 5), missing: missing.slice(0, 5), total: got.length }).toEqual({ dups: [], missing: [], total: n });
}

describe('container logs end to end', () => {
  it('tails a CRI file with tags, stream, status and time from the line', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('shop', 'web-1', 'nginx'), '0.log');
    fs.writeFileSync(f, cri('ERROR boom', 'stderr', 'F', new Date('2024-05-01T10:20:30.000Z')));
    const a = await agentFor(root);
    await waitFor(() => a.dataway.points('logging').length >= 1);
    const p = a.dataway.points('logging')[0]!;
    expect(p.name).toBe('nginx');
    expect(p.tags).toMatchObject({ service: 'nginx', container_name: 'nginx', namespace: 'shop', pod_name: 'web-1', stream: 'stderr', host: 'test-host' });
    expect(p.fields).toMatchObject({ message: 'ERROR boom', status: 'error', filepath: f, log_read_lines: 1n });
    expect(p.time).toBe(1714558830000123456n);
    logs.appendLines(f, 'more-', 0, 500);
    await expectExactly(a.dataway, 'more-', 500);
  });

  it('follows rotation by rename, with the rotated file gzipped', async () => {
    const { root, logs, dir, f } = emptyLog();
    const a = await agentFor(root);
    logs.appendLines(f, 'r-', 0, 1000);
    await waitFor(() => messages(a.dataway).length > 0);
    // kubelet: rename, keep writing briefly to the old inode, create a new file.
    const rotated = path.join(dir, '0.log.20240501-102030');
    fs.renameSync(f, rotated);
    logs.appendLines(rotated, 'r-', 1000, 1200);
    logs.appendLines(f, 'r-', 1200, 2000);
    await expectExactly(a.dataway, 'r-', 2000);
    // gzip the rotated one (kubelet compresses older rotations) and rotate again.
    fs.writeFileSync(rotated + '.gz', zlib.gzipSync(fs.readFileSync(rotated)));
    fs.rmSync(rotated);
    fs.renameSync(f, path.join(dir, '0.log.20240501-102040'));
    logs.appendLines(f, 'r-', 2000, 2500);
    await expectExactly(a.dataway, 'r-', 2500);
  });

  it('follows copytruncate, reading what was left from the copy', async () => {
    const { root, logs, dir, f } = emptyLog();
    const a = await agentFor(root);
    logs.appendLines(f, 't-', 0, 300);
    await expectExactly(a.dataway, 't-', 300);
    for (let round = 0; round < 3; round++) {
      // Lines written just before the copy are usually unread when the truncate happens.
      logs.appendLines(f, 't-', 300 + round * 400, 500 + round * 400);
      // logrotate's copytruncate: shift the numbered copies (0.log.1 → 0.log.2), copy to 0.log.1, truncate.
      for (let k = round; k >= 1; k--) fs.renameSync(path.join(dir, `0.log.${k}`), path.join(dir, `0.log.${k + 1}`));
      fs.copyFileSync(f, path.join(dir, '0.log.1'));
      fs.truncateSync(f, 0);
      logs.appendLines(f, 't-', 500 + round * 400, 700 + round * 400);
      await expectExactly(a.dataway, 't-', 700 + round * 400);
    }
  });

  it('resumes after a restart across fast rotations (rename, gzip) made while stopped, without loss or duplicates', async () => {
    const { root, logs, dir, f } = emptyLog();
    const dataway = await TestDataway.start();
    const dataDir = tempDir('logs-data-');
    let a = await agentFor(root, '', { dataway, dataDir });
    logs.appendLines(f, 's-', 0, 1000);
    await expectExactly(dataway, 's-', 1000);
    logs.appendLines(f, 's-', 1000, 1100); // may or may not be read before the stop
    await a.stop();
    running.pop();
    // While stopped: more lines, rotate (gzip), more lines, rotate again, a new file.
    logs.appendLines(f, 's-', 1100, 1300);
    const r1 = path.join(dir, '0.log.20240501-000001');
    fs.renameSync(f, r1);
    logs.appendLines(f, 's-', 1300, 1600);
    fs.writeFileSync(r1 + '.gz', zlib.gzipSync(fs.readFileSync(r1)));
    fs.rmSync(r1);
    fs.renameSync(f, path.join(dir, '0.log.20240501-000002'));
    logs.appendLines(f, 's-', 1600, 2000);
    a = await agentFor(root, '', { dataway, dataDir });
    await expectExactly(dataway, 's-', 2000);
    logs.appendLines(f, 's-', 2000, 2100);
    await expectExactly(dataway, 's-', 2100);
    await a.stop();
    running.pop();
    await dataway.close();
  });

  it('a config reload while batches are unacknowledged neither loses nor repeats lines', async () => {
    const { root, logs, f } = emptyLog();
    const a = await agentFor(root);
    a.dataway.respond(() => ({ status: 200, delayMs: 150 })); // slow acks: batches stay in flight
    logs.appendLines(f, 'h-', 0, 20000);
    await waitFor(() => a.dataway.requests.length > 0);
    fs.writeFileSync(path.join(a.confDir, 'container', 'container.conf'), containerConf(root, '[inputs.container.tags]\nreloaded = "yes"'));
    const r = await a.agent.reload();
    expect(r.ok).toBe(true);
    logs.appendLines(f, 'h-', 20000, 21000);
    a.dataway.respond(undefined);
    await expectExactly(a.dataway, 'h-', 21000);
    expect(a.dataway.points('logging').some((p) => p.tags.reloaded === 'yes')).toBe(true);
  });
});
