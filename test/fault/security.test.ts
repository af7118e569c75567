/**
 * Security and resource limits: the dataway token never shows in logs,
 * metrics or API answers; every route has a body limit (also after
 * decompression); the memory guard sheds load with 503 + Retry-After; log
 * tailing does not follow a symlink out of the configured log roots.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTestAgent, tempDir } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { readSettings } from '../../agent/config/env.js';
import { PodLogs, containerConf, cri } from '../../inputs/container/testdata/logfiles.js';
import { LoadBooks, loadgen } from './loadgen.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const TOKEN = 'tkn_S3CR3Tvalue0123456789';

function captureLog(): { log: pino.Logger; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), text: () => text };
}

describe('token redaction', () => {
  it('the dataway token appears in no log line, metric, /v1/ping or /v1/stats answer, even on failures', async () => {
    const dw = await TestDataway.start(TOKEN);
    cleanups.push(() => dw.close());
    const cap = captureLog();
    const books = new LoadBooks();
    // A second, unreachable dataway URL with the token: connection errors are logged too.
    const t = await startTestAgent({
      dataway: dw,
      conf: { 'loadgen.conf': '[[inputs.loadgen]]\nbatch = 10\ninterval_ms = 20\n' },
      env: { ENV_DATAWAY: `${dw.url},http://127.0.0.1:9/?token=${TOKEN}`, ENV_DATAWAY_MAX_RETRY_COUNT: '2', ENV_DATAWAY_RETRY_DELAY: '20ms', ENV_DATAWAY_WAL_CAPACITY: '64KiB' },
      extra: { registry: [loadgen(books)], log: cap.log },
    });
    cleanups.push(() => t.stop());
    // The dataway answers errors that echo the request URL (with the token) in their body.
    let n = 0;
    dw.respond((r) =>
      n++ < 6 ? { status: n % 2 ? 500 : 403, body: n % 3 ? `bad request to /v1/write/metric?token=${r.query.get('token')}` : `{"message":"token ${r.query.get('token')} is not valid"}` } : undefined,
    );
    await waitFor(() => n > 8 && books.acked.size > 0, { timeoutMs: 15_000, what: 'failures then deliveries' });
    await waitFor(() => /sink|dataway|batch/i.test(cap.text()), { what: 'sink log lines' });
    const answers = await Promise.all(['/v1/ping', '/v1/stats', '/metrics'].map(async (p) => (await fetch(t.url + p)).text()));
    await t.stop();
    const all = [cap.text(), ...answers].join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('S3CR3T');
    // The agent did talk about both dataways, by redacted URL or name.
    expect(cap.text()).toMatch(/token=\*\*\*|dataway\[1\]/);
  }, 30_000);

  it('a malformed ENV_DATAWAY is reported without its token', () => {
    expect(() => readSettings({ ENV_DATAWAY: `ftp://host/?token=${TOKEN}` })).toThrow(/token=\*\*\*/);
    try {
      readSettings({ ENV_DATAWAY: `ftp://host/?token=${TOKEN}` });
    } catch (e) {
      expect(String(e)).not.toContain(TOKEN);
    }
  });
});

describe('body limits', () => {
  it('answers 413 to a body over ENV_HTTP_BODY_LIMIT and to a gzip bomb, and keeps serving', async () => {
    const t = await startTestAgent({ env: { ENV_HTTP_BODY_LIMIT: String(1 << 20) } });
    cleanups.push(() => t.stop());
    const big = Buffer.alloc((1 << 20) + 100, 'a');
    const r1 = await fetch(`${t.url}/v1/write/metric`, { method: 'POST', body: big });
    expect(r1.status).toBe(413);
    const bomb = zlib.gzipSync(Buffer.alloc(64 << 20)); // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(1 << 20);
    const r2 = await fetch(`${t.url}/v1/write/metric`, { method: 'POST', body: bomb, headers: { 'content-encoding': 'gzip' } });
    expect(r2.status).toBe(413);
    const ok = await fetch(`${t.url}/v1/write/metric`, { method: 'POST', body: 'm v=1\n' });
    expect(ok.status).toBe(200);
    const rss = process.memoryUsage.rss();
    expect(rss).toBeLessThan(2 ** 30);
  });
});

describe('memory limit', () => {
  it('above ENV_MEMORY_LIMIT_MB: HTTP writes get 503 + Retry-After, non-waiting producers drop with a counter', async () => {
    const books = new LoadBooks();
    // 1 MiB is below any Node process's RSS: the guard trips at once.
    const t = await startTestAgent({ env: { ENV_MEMORY_LIMIT_MB: '1' }, conf: { 'loadgen.conf': '[[inputs.loadgen]]\nbatch = 10\ninterval_ms = 20\n' }, extra: { registry: [loadgen(books)] } });
    cleanups.push(() => t.stop());
    const r = await fetch(`${t.url}/v1/write/metric`, { method: 'POST', body: 'm v=1\n' });
    expect(r.status).toBe(503);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${t.url}/v1/ping`)).status).toBe(200); // reads still answered
    await waitFor(() => books.offered > 100, { what: 'load offered' });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/telekit_memory_overloaded 1/);
    expect(metrics).toMatch(/telekit_points_dropped_total\{category="metric",reason="memory"\} [1-9]/);
    expect(books.accepted.size).toBe(0);
  });
});

describe('log files only under the configured roots', () => {
  it('a symlink under pod_logs_dir pointing outside is not followed', async () => {
    const root = tempDir('logs-sec-');
    const outside = tempDir('outside-');
    const secret = path.join(outside, 'secret.log');
    fs.writeFileSync(secret, cri('SECRET-LINE-1') + cri('SECRET-LINE-2'));
    const logs = new PodLogs(root);
    // A container whose log file is a symlink to a file outside the roots...
    fs.symlinkSync(secret, path.join(logs.dir('evil', 'pod-a', 'c'), '0.log'));
    // ...a pod directory that is itself a symlink to a directory outside...
    fs.mkdirSync(path.join(outside, 'c'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'c', '0.log'), cri('SECRET-DIR-LINE'));
    fs.symlinkSync(outside, path.join(root, 'evil_pod-b_uid-b'));
    // ...and a legitimate one, to know the input is running.
    const good = path.join(logs.dir('ok', 'pod-c', 'c'), '0.log');
    fs.writeFileSync(good, cri('GOOD-LINE'));
    const t = await startTestAgent({ conf: { 'container/container.conf': containerConf(root, 'logging_file_from_beginning = true') } });
    cleanups.push(() => t.stop());
    await t.dataway.waitForPoints('logging', (pts) => pts.some((p) => p.fields.message === 'GOOD-LINE'));
    fs.appendFileSync(secret, cri('SECRET-LINE-3'));
    fs.appendFileSync(good, cri('GOOD-LINE-2'));
    await t.dataway.waitForPoints('logging', (pts) => pts.some((p) => p.fields.message === 'GOOD-LINE-2'));
    const leaked = t.dataway.points('logging').filter((p) => String(p.fields.message).startsWith('SECRET'));
    expect(leaked.map((p) => p.fields.message)).toEqual([]);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/telekit_input_errors_total\{input="container",kind="outside_roots"\} [1-9]/);
  }, 30_000);
});
