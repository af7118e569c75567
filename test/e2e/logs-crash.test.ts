/**
 * kill -9 and restart: the agent runs as a child process (the CLI's `run`
 * command, bundled fresh from the sources with esbuild), is killed while the
 * dataway refuses batches, the log file is rotated while it is down, and after
 * the restart every line arrives exactly once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConf } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { PodLogs, containerConf } from '../../inputs/container/testdata/logfiles.js';

const root = path.resolve(import.meta.dirname, '../..');
// Inside node_modules so that the bundle resolves the external packages.
const bundleDir = path.join(root, 'node_modules', '.cache', 'telekit-logs-e2e');
const bundle = path.join(bundleDir, `cli-${process.pid}.mjs`);

beforeAll(async () => {
  fs.mkdirSync(bundleDir, { recursive: true });
  await build({
    stdin: { contents: `import { main } from './cli/main.ts'; main(process.argv.slice(2)).then((c) => { if (typeof c === 'number') process.exitCode = c; });`, resolveDir: root, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: bundle,
    logLevel: 'silent',
  });
});
afterAll(() => fs.rmSync(bundle, { force: true }));

function startChild(confDir: string, dataDir: string, dataway: TestDataway): ChildProcess {
  const child = spawn(process.execPath, [bundle, 'run', '--conf-dir', confDir, '--data-dir', dataDir], {
    env: {
      PATH: process.env.PATH,
      ENV_DATAWAY: dataway.url,
      ENV_HTTP_LISTEN: '127.0.0.1:0',
      ENV_IO_FLUSH_INTERVAL: '100ms',
      ENV_DATAWAY_RETRY_DELAY: '50ms',
      ENV_HOSTNAME: 'crash-host',
      ENV_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[child] ${d}`));
  return child;
}

async function kill9(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

describe('container logs across kill -9', () => {
  it('loses nothing and duplicates nothing', async () => {
    const logsRoot = tempDir('logs-');
    const logs = new PodLogs(logsRoot);
    const dir = logs.dir('ns', 'p', 'c');
    const f = path.join(dir, '0.log');
    fs.writeFileSync(f, '');
    const confDir = tempDir('logs-conf-');
    const dataDir = tempDir('logs-data-');
    writeConf(confDir, { 'container/container.conf': containerConf(logsRoot) });
    const dataway = await TestDataway.start();
    const count = () => dataway.points('logging').length;
    let child = startChild(confDir, dataDir, dataway);
    try {
      logs.appendLines(f, 'k-', 0, 1000);
      await waitFor(() => count() >= 1000, { timeoutMs: 20_000, what: 'first 1000' });
      // Everything acknowledged is checkpointed.
      const posFile = path.join(dataDir, 'container', 'positions.json');
      await waitFor(() => {
        const p = JSON.parse(fs.readFileSync(posFile, 'utf8')) as { positions: { path: string; offset: number }[] };
        return p.positions.some((x) => x.path === f && x.offset === fs.statSync(f).size);
      }, { what: 'checkpoint at end of file' });

      // The dataway refuses; lines are read but never acknowledged; kill -9.
      dataway.respond((r) => (r.category === 'logging' ? { status: 503 } : undefined));
      logs.appendLines(f, 'k-', 1000, 2000);
      await waitFor(() => dataway.requests.filter((r) => r.category === 'logging' && r.status === 503).length >= 2, { what: 'refused batches' });
      await kill9(child);

      // While down: more lines, a rename rotation, a new file.
      logs.appendLines(f, 'k-', 2000, 2200);
      fs.renameSync(f, path.join(dir, '0.log.20240501-000001'));
      logs.appendLines(f, 'k-', 2200, 2500);
      dataway.respond(undefined);
      child = startChild(confDir, dataDir, dataway);
      await waitFor(() => new Set(dataway.points('logging').map((p) => p.fields.message)).size >= 2500, { timeoutMs: 20_000, what: 'all 2500 lines' });

      // Kill again right after everything is acknowledged and checkpointed, then restart: nothing is re-sent.
      await waitFor(() => {
        const p = JSON.parse(fs.readFileSync(posFile, 'utf8')) as { positions: { path: string; offset: number }[] };
        return p.positions.some((x) => x.path === f && x.offset === fs.statSync(f).size);
      }, { what: 'checkpoint after restart' });
      await kill9(child);
      child = startChild(confDir, dataDir, dataway);
      logs.appendLines(f, 'k-', 2500, 2600);
      await waitFor(() => count() >= 2600, { timeoutMs: 20_000, what: 'last 100' });

      const got = dataway.points('logging').map((p) => String(p.fields.message));
      const counts = new Map<string, number>();
      for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
      const missing = Array.from({ length: 2600 }, (_, i) => `k-${i}`).filter((k) => !counts.has(k));
      const dups = [...counts].filter(([, c]) => c > 1).map(([k]) => k);
      expect({ missing: missing.slice(0, 5), dups: dups.slice(0, 5), total: got.length }).toEqual({ missing: [], dups: [], total: 2600 });
    } finally {
      await kill9(child);
      await dataway.close();
    }
  }, 60_000);

  it('a graceful stop (SIGTERM) right after reading repeats nothing on restart', async () => {
    const logsRoot = tempDir('logs-');
    const logs = new PodLogs(logsRoot);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    fs.writeFileSync(f, '');
    const confDir = tempDir('logs-conf-');
    const dataDir = tempDir('logs-data-');
    writeConf(confDir, { 'container/container.conf': containerConf(logsRoot) });
    const dataway = await TestDataway.start();
    dataway.respond(() => ({ status: 200, delayMs: 30 })); // acks arrive during the shutdown flush
    let child = startChild(confDir, dataDir, dataway);
    try {
      for (let round = 0; round < 3; round++) {
        logs.appendLines(f, 'g-', round * 3000, round * 3000 + 3000);
        await waitFor(() => dataway.points('logging').length > round * 3000, { timeoutMs: 20_000, what: `round ${round} started` });
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
        child = startChild(confDir, dataDir, dataway);
      }
      await waitFor(() => new Set(dataway.points('logging').map((p) => p.fields.message)).size >= 9000, { timeoutMs: 20_000, what: 'all 9000 lines' });
      logs.appendLines(f, 'g-', 9000, 9010);
      await waitFor(() => new Set(dataway.points('logging').map((p) => p.fields.message)).size >= 9010, { what: 'the last lines' });
      const got = dataway.points('logging').map((p) => String(p.fields.message));
      const counts = new Map<string, number>();
      for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
      const dups = [...counts].filter(([, c]) => c > 1).map(([k]) => k);
      expect({ dups: dups.slice(0, 5), ndups: dups.length, total: got.length }).toEqual({ dups: [], ndups: 0, total: 9010 });
    } finally {
      await kill9(child);
      await dataway.close();
    }
  }, 60_000);
});
