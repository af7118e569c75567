/**
 * `telekit monitor` against a live agent: runMonitor reads /v1/stats and
 * /metrics and prints inputs, queues, sinks and drops.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMonitor } from '../../cli/monitor.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { freePort, waitFor } from '../helpers/wait.js';

function capture(tty = false): { out: NodeJS.WritableStream; text: () => string } {
  const s = new PassThrough();
  let buf = '';
  s.on('data', (c: Buffer) => (buf += c.toString()));
  Object.assign(s, { isTTY: tty, columns: 160 });
  return { out: s, text: () => buf };
}

describe('telekit monitor end to end', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent({
      env: {
        ENV_DEFAULT_ENABLED_INPUTS: 'mem,gitlab',
        ENV_INPUT_MEM_INTERVAL: '1s',
        ENV_INPUT_GITLAB_PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}/-/metrics`, // nothing listens: scrape errors
      },
    });
    // a batch has been sent: the sink has counts and latency
    await t.dataway.waitForPoints('metric', 1, { name: 'mem' });
  });
  afterAll(async () => t?.stop());

  it('--once prints the running inputs, the queues and the dataway sink with rates', async () => {
    const c = capture();
    await runMonitor({ url: t.url, intervalMs: 1000, out: c.out, once: true });
    const out = c.text();
    expect(out).toMatch(/^telekit \S+ {2}host test-host {2}up /);
    expect(out).toMatch(/^mem\[0\]\s+\d+\.\d\s+\d+\s+0$/m); // a rate, points, no errors
    // gitlab's metric scrape fails: an error with its age and message
    expect(out).toMatch(/^gitlab\[0\]\s+\S+\s+0\s+[1-9]\d*(?: \(\+\d+\))?\s+\d+s ago: \S/m);
    expect(out).toMatch(/^metric\s+\d+\s+\S+\s+\d+%$/m); // points, capacity, fill
    expect(out).toMatch(/^dataway\S* metric\s+\d+\.\d\s+[1-9]\d*\s+0\s+0\s+[\d.]+m?s\s+[\d.]+m?s$/m); // rate, sent, failed, retries, p50, p99
    expect(out).toContain('DROPPED  none');
  });

  it('refreshes in place on a terminal until aborted', async () => {
    const c = capture(true);
    const ac = new AbortController();
    const done = runMonitor({ url: t.url, intervalMs: 200, out: c.out, signal: ac.signal });
    await waitFor(() => c.text().split('\x1b[H').length >= 3, { timeoutMs: 10_000, what: 'two frames' });
    ac.abort();
    await done;
    expect(c.text().startsWith('\x1b[2J\x1b[H')).toBe(true); // cleared once, then redrawn in place
    expect(c.text().split('\x1b[2J')).toHaveLength(2);
    const frames = c.text().split('\x1b[H').filter(Boolean);
    expect(frames.at(-1)).toMatch(/^mem\[0\]\s+\d/m);
  });

  it('renders what an agent that reports less (or other JSON) offers instead of failing', async () => {
    const http = await import('node:http');
    const server = http.createServer((q, r) => (q.url === '/v1/stats' ? r.end('{"version":"9.9.9"}') : r.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = capture();
      await runMonitor({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, intervalMs: 100, out: c.out, once: true });
      expect(c.text()).toContain('telekit 9.9.9');
      expect(c.text()).toContain('(no inputs running)');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('shows an unreachable agent and keeps retrying; --once rejects', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(runMonitor({ url, intervalMs: 100, out: capture().out, once: true })).rejects.toThrow();
    const c = capture();
    const ac = new AbortController();
    const done = runMonitor({ url, intervalMs: 100, out: c.out, signal: ac.signal });
    await waitFor(() => c.text().split('cannot reach').length >= 3, { timeoutMs: 10_000, what: 'two retries' });
    ac.abort();
    await done;
    expect(c.text()).toContain(`cannot reach telekit at ${url}`);
  });
});

describe('telekit monitor command', () => {
  it('`telekit monitor --url … --once` (the CLI entry) prints a snapshot of a live agent', async () => {
    const t = await startTestAgent({ env: { ENV_DEFAULT_ENABLED_INPUTS: 'mem', ENV_INPUT_MEM_INTERVAL: '1s' } });
    try {
      await t.dataway.waitForPoints('metric', 1, { name: 'mem' });
      const { main } = await import('../../cli/main.js');
      let out = '';
      const write = process.stdout.write;
      process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write;
      let code;
      try {
        code = await main(['monitor', '--url', t.url, '--once', '--interval', '300']);
      } finally {
        process.stdout.write = write;
      }
      expect(code).toBe(0);
      expect(out).toMatch(/^telekit \S+ {2}host test-host/);
      expect(out).toMatch(/^mem\[0\]\s+\d+\.\d\s+\d+\s+0$/m);
    } finally {
      await t.stop();
    }
  });
});
