/**
 * Issue 16, case 1: host files must not leak through a log rotation. A
 * workload that can write its pod log directory swaps the live file for a
 * symlink after a rotation (`mv 0.log 0.log.<ts>; ln -s <host file> 0.log`),
 * points it at a directory, or adds a rotated sibling that is a symlink. The
 * decision is made on the opened descriptor at every open (agent/services/
 * files/safe-open.ts): nothing from outside the roots reaches the dataway,
 * refusals are counted by reason, and real log lines keep flowing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { PodLogs, containerConf, cri } from '../../inputs/container/testdata/logfiles.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

async function refused(t: TestAgent, reason: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const m = new RegExp(`telekit_container_log_files_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

function messages(t: TestAgent): string[] {
  return t.dataway.points('logging').map((p) => String(p.fields.message));
}

/** A host file outside the log roots, and a host directory with a log-looking file. */
function outsideFiles(): { secret: string; secret2: string; dir: string } {
  const outside = tempDir('outside-');
  cleanups.push(() => fs.rmSync(outside, { recursive: true, force: true }));
  const secret = path.join(outside, 'passwd');
  fs.writeFileSync(secret, cri('SECRET-PASSWD-1') + cri('SECRET-PASSWD-2'));
  const secret2 = path.join(outside, 'hostname');
  fs.writeFileSync(secret2, cri('SECRET-HOSTNAME'));
  const dir = path.join(outside, 'dir');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '0.log'), cri('SECRET-IN-DIR'));
  return { secret, secret2, dir };
}

describe('log files are decided on the opened descriptor', () => {
  it('rotation to a symlink (file, directory) and a symlinked rotated sibling: nothing from outside the roots is read', async () => {
    const root = tempDir('logs-rot-sec-');
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const out = outsideFiles();
    const logs = new PodLogs(root);
    const dir = logs.dir('ns', 'ok', 'c', 'uid0');
    const live = path.join(dir, '0.log');
    fs.writeFileSync(live, cri('GOOD-1'));
    const t = await startTestAgent({ conf: { 'container/container.conf': containerConf(root, 'logging_file_from_beginning = true') } });
    cleanups.push(() => t.stop());
    await waitFor(() => messages(t).includes('GOOD-1'), { what: 'GOOD-1' });

    // mv 0.log 0.log.<ts>; ln -s <host file> 0.log — then the host file grows.
    fs.appendFileSync(live, cri('GOOD-2'));
    fs.renameSync(live, `${live}.20240101-000001`);
    fs.symlinkSync(out.secret, live);
    fs.appendFileSync(out.secret, cri('SECRET-PASSWD-3'));
    await waitFor(async () => messages(t).some((m) => m.startsWith('SECRET')) || (await refused(t, 'outside_roots')) > 0, { what: 'the rotated-to symlink refused (or read)' });
    expect(messages(t).filter((m) => m.startsWith('SECRET'))).toEqual([]);
    await waitFor(() => messages(t).includes('GOOD-2'), { what: 'the rotated file read to its end' });

    // The live path becomes a symlink to a directory outside the roots.
    fs.rmSync(live);
    fs.symlinkSync(out.dir, live);
    await waitFor(async () => messages(t).some((m) => m.startsWith('SECRET')) || (await refused(t, 'not_regular')) > 0, { what: 'the symlink to a directory refused' });

    // A rotated sibling that is a symlink to another host file, then a real live file again.
    fs.symlinkSync(out.secret2, `${live}.20240101-000011`);
    fs.rmSync(live);
    const before = await refused(t, 'outside_roots');
    fs.writeFileSync(live, cri('GOOD-3'));
    await waitFor(() => messages(t).includes('GOOD-3'), { what: 'the new live file read' });
    await waitFor(async () => (await refused(t, 'outside_roots')) > before, { what: 'the symlinked sibling refused' });
    fs.appendFileSync(live, cri('GOOD-4'));
    await waitFor(() => messages(t).includes('GOOD-4'), { what: 'GOOD-4' });

    expect(messages(t).filter((m) => m.startsWith('SECRET'))).toEqual([]);
    expect(messages(t).filter((m) => m.startsWith('GOOD'))).toEqual(['GOOD-1', 'GOOD-2', 'GOOD-3', 'GOOD-4']);
  }, 30_000);

  it('restart from checkpoints: a rotated sibling that became a symlink while the agent was down is not read', async () => {
    const root = tempDir('logs-restart-sec-');
    const dataDir = tempDir('logs-restart-data-');
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const out = outsideFiles();
    const dw = await TestDataway.start();
    cleanups.push(() => dw.close());
    const logs = new PodLogs(root);
    const live = path.join(logs.dir('ns', 'ok', 'c', 'uid0'), '0.log');
    fs.writeFileSync(live, cri('GOOD-1'));
    const conf = { 'container/container.conf': containerConf(root, 'logging_file_from_beginning = true') };
    const t1 = await startTestAgent({ conf, dataway: dw, dataDir });
    await waitFor(() => messages(t1).includes('GOOD-1'), { what: 'GOOD-1' });
    await t1.stop();

    // While down: the file is rotated away and replaced by a symlink, a symlinked sibling appears, a new live file.
    fs.renameSync(live, `${live}.20240101-000001`);
    fs.rmSync(`${live}.20240101-000001`);
    fs.symlinkSync(out.secret, `${live}.20240101-000001`);
    fs.symlinkSync(out.secret2, `${live}.20240101-000002`);
    fs.appendFileSync(out.secret, cri('SECRET-PASSWD-3')); // newer than the saved positions
    fs.appendFileSync(out.secret2, cri('SECRET-HOSTNAME-2'));
    fs.writeFileSync(live, cri('GOOD-2'));
    const t2 = await startTestAgent({ conf, dataway: dw, dataDir });
    cleanups.push(() => t2.stop());
    await waitFor(() => messages(t2).includes('GOOD-2'), { what: 'GOOD-2 after the restart' });
    expect(messages(t2).filter((m) => m.startsWith('SECRET'))).toEqual([]);
    expect(await refused(t2, 'outside_roots')).toBeGreaterThan(0);
  }, 30_000);
});
