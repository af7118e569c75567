/**
 * Issue 16, case 5: shutdown against a dataway that accepts connections and
 * never answers. SIGTERM exits within ENV_SHUTDOWN_TIMEOUT + 2 s (sends in
 * flight are aborted at the deadline, what is unsent goes to the disk
 * buffer); a second SIGTERM skips straight to the spill; and every point the
 * agent acknowledged (HTTP 200) arrives once a good dataway is back, replayed
 * from the disk buffer by the next start.
 *
 * Runs the built agent (dist/): `npm run build` first (npm test does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { assertBuilt, BIN, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { freePort, waitFor } from '../helpers/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A dataway that takes connections and request bytes and never answers. */
async function hangingDataway(): Promise<{ url: string; bytes: () => number; close: () => Promise<void> }> {
  let bytes = 0;
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on('data', (d) => (bytes += d.length));
    s.on('error', () => undefined);
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}?token=tkn_hang`,
    bytes: () => bytes,
    close: async () => {
      for (const s of socks) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function spawnAgent(dataDir: string, confDir: string, env: Record<string, string>) {
  const proc: ChildProcess = spawn(process.execPath, [BIN, 'run', '--conf-dir', confDir, '--data-dir', dataDir], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return exited;
  });
  return { proc, out: () => out, exited };
}

const env = (dataway: string, port: number, timeout: string) => ({
  ENV_DATAWAY: dataway,
  ENV_HTTP_LISTEN: `127.0.0.1:${port}`,
  ENV_DEFAULT_ENABLED_INPUTS: '-',
  ENV_IO_FLUSH_INTERVAL: '100ms',
  ENV_SHUTDOWN_TIMEOUT: timeout,
  ENV_LOG_LEVEL: 'info',
  ENV_HOSTNAME: 'shutdown-test',
});

/** Writes `n` points `shut,run=<run> seq=<i>i` in requests of 20; returns the seqs the agent answered 200 for. */
async function write(url: string, run: string, from: number, n: number): Promise<number[]> {
  const acked: number[] = [];
  for (let i = from; i < from + n; i += 20) {
    let body = '';
    const seqs: number[] = [];
    for (let j = i; j < Math.min(i + 20, from + n); j++) {
      body += `shut,run=${run} seq=${j}i\n`;
      seqs.push(j);
    }
    const r = await fetch(`${url}/v1/write/metric`, { method: 'POST', body });
    await r.arrayBuffer();
    if (r.status === 200) acked.push(...seqs);
  }
  return acked;
}

describe('shutdown with a dataway that never answers', () => {
  it('SIGTERM exits within ENV_SHUTDOWN_TIMEOUT + 2 s, a second SIGTERM at once, and every acknowledged point is replayed on the next start', async () => {
    assertBuilt();
    const hang = await hangingDataway();
    cleanups.push(() => hang.close());
    const data = tempDir('telekit-shut-');
    const conf = tempDir('telekit-shutconf-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const up = () => fetch(`${base}/v1/ping`).then((r) => r.ok);

    // Run 1: one SIGTERM, a 2 s deadline.
    const a = spawnAgent(data, conf, env(hang.url, port, '2s'));
    await waitFor(up, { timeoutMs: 15_000, what: `agent up: ${a.out()}` });
    const acked = await write(base, 'a', 0, 400);
    await waitFor(() => hang.bytes() > 0, { what: 'a request in flight at the hanging dataway' });
    let t0 = Date.now();
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    const first = Date.now() - t0;
    expect(first, a.out()).toBeLessThan(2000 + 2000);

    // Run 2: a 60 s deadline, cut short by a second SIGTERM.
    const b = spawnAgent(data, conf, env(hang.url, port, '60s'));
    await waitFor(up, { timeoutMs: 15_000, what: `agent up again: ${b.out()}` });
    const mark = hang.bytes();
    acked.push(...(await write(base, 'b', 1000, 400)));
    await waitFor(() => hang.bytes() > mark, { what: 'run 2 requests in flight' });
    t0 = Date.now();
    b.proc.kill('SIGTERM');
    await waitFor(() => b.out().includes('shutting down'), { what: 'shutdown started' });
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    const second = Date.now() - t0;
    expect(second, b.out()).toBeLessThan(3000);
    expect(b.out()).toContain('second signal');
    expect(acked.length).toBe(800);

    // Run 3: a good dataway; what runs 1 and 2 spilled at shutdown arrives.
    const dw = await TestDataway.start();
    cleanups.push(() => dw.close());
    const c = spawnAgent(data, conf, env(dw.url, port, '5s'));
    await waitFor(up, { timeoutMs: 15_000, what: `agent up a third time: ${c.out()}` });
    const got = () => new Set(dw.points('metric', 'shut').map((p) => Number(p.fields.seq as bigint)));
    await waitFor(() => acked.every((s) => got().has(s)), { timeoutMs: 15_000, what: `every acknowledged point replayed (${got().size}/${acked.length})` });
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  }, 45_000);
});
