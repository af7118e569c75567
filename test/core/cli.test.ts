import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, ROOT } from '../helpers/cli.js';
import { tempDir, writeConf } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { freePort, waitFor } from '../helpers/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('telekit command', () => {
  it('prints its version', async () => {
    const r = await runCli(['version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(`telekit ${pkg.version}`);
  });

  it('check-config names the file, line and key of a bad option and exits non-zero', async () => {
    const dir = tempDir();
    writeConf(dir, { 'statsd/statsd.conf': '[[inputs.statsd]]\nservice_address = ":8125"\npercentiles = "p99"\n' });
    const r = await runCli(['check-config', '--conf-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(dir, 'statsd/statsd.conf')}:3: error: inputs.statsd[0].percentiles: expected a list`);
  });

  it('check-config lists the inputs of the sample conf.d', async () => {
    const r = await runCli(['check-config', '--conf-dir', path.join(ROOT, 'conf.d')]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/inputs that would start \([1-9]\d*\)/);
  });

  it('run writes points to <data dir>/out/ without ENV_DATAWAY', async () => {
    const port = await freePort();
    const data = tempDir();
    const a = startCli(['run', '--conf-dir', tempDir(), '--data-dir', data], { ENV_HTTP_LISTEN: `127.0.0.1:${port}`, ENV_IO_FLUSH_INTERVAL: '200ms' });
    cleanups.push(() => a.proc.kill('SIGKILL'));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${base}/v1/ping`).then((r) => r.ok), { what: 'agent up', timeoutMs: 15_000 });
    expect((await fetch(`${base}/v1/write/metric`, { method: 'POST', body: 'm,a=b v=1\n' })).status).toBe(200);
    const file = path.join(data, 'out', 'metric.lp');
    const text = await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8'), { what: 'metric.lp' });
    expect(text).toMatch(/^m,a=b,host=\S+ v=1 \d+\n$/);
  });

  it('flushes queued points to the dataway on SIGTERM and exits 0', async () => {
    const dw = await TestDataway.start();
    cleanups.push(() => dw.close());
    const port = await freePort();
    const a = startCli(['run', '--conf-dir', tempDir(), '--data-dir', tempDir()], {
      ENV_DATAWAY: dw.url,
      ENV_HTTP_LISTEN: `127.0.0.1:${port}`,
      ENV_IO_FLUSH_INTERVAL: '1h',
    });
    cleanups.push(() => a.proc.kill('SIGKILL'));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${base}/v1/ping`).then((r) => r.ok), { what: 'agent up', timeoutMs: 15_000 });
    await fetch(`${base}/v1/write/logging`, { method: 'POST', body: 'app message="one"\napp message="two"\n' });
    expect(dw.points('logging')).toHaveLength(0);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(dw.points('logging').map((p) => p.fields.message)).toEqual(['one', 'two']);
    expect(a.output()).not.toContain('tkn_test');
  });
});
