/**
 * The input with real sockets and a fake accumulator: raw UDP and TCP packets,
 * hot-shots (the client Node services use), bad input, lifecycle.
 * End-to-end tests through the agent live in test/e2e/statsd*.test.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import StatsD from 'hot-shots';
import { validate } from '../../agent/config/schema.js';
import type { Point } from '../../agent/model/point.js';
import { freeTcpUdpPort, waitFor } from '../../test/helpers/wait.js';
import { sendUdp } from '../../test/helpers/net.js';
import { schema } from './config.js';
import { StatsdInput } from './statsd.js';
import { fakeContext, metricValue, type FakeContext } from '../../test/helpers/fake-context.js';

const running: StatsdInput[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

async function startInput(conf: Record<string, unknown>): Promise<{ input: StatsdInput; ctx: FakeContext; port: number }> {
  const port = await freeTcpUdpPort();
  const v = validate(schema, { service_address: `127.0.0.1:${port}`, interval: '1h', ...conf });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const ctx = fakeContext('statsd');
  const input = new StatsdInput(v.value, ctx);
  await input.start();
  running.push(input);
  return { input, ctx, port };
}

/** Waits until `n` values (of any type) were aggregated. */
async function aggregated(ctx: FakeContext, n: number): Promise<void> {
  await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_statsd_metrics_total')) >= n, { what: `${n} statsd values` });
}

function point(points: Point[], name: string, tags: Record<string, string> = {}): Point {
  const p = points.find((x) => x.name === name && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
  if (!p) throw new Error(`no ${name} ${JSON.stringify(tags)} among ${JSON.stringify(points.map((x) => [x.name, x.tags]))}`);
  return p;
}

describe('statsd over UDP', () => {
  it('aggregates raw packets with several metrics each and emits them on flush', async () => {
    const { input, ctx, port } = await startInput({});
    await sendUdp(port, 'web.hits:1|c\nweb.hits:4|c|@0.5\nweb.temp:20|g', 'web.temp:+2|g\nweb.users:a|s\nweb.users:b|s', 'web.lat:10:20:30|ms|#route:/x');
    await aggregated(ctx, 8);
    await input.flush();
    const pts = ctx.points;
    expect(point(pts, 'web', { metric_type: 'counter' }).fields).toEqual({ hits: 9 });
    expect(point(pts, 'web', { metric_type: 'gauge' }).fields).toEqual({ temp: 22 });
    expect(point(pts, 'web', { metric_type: 'set' }).fields).toEqual({ users: 2n });
    expect(point(pts, 'web', { metric_type: 'timing', route: '/x' }).fields).toMatchObject({ lat_count: 3n, lat_mean: 20, lat_lower: 10, lat_upper: 30, lat_sum: 60 });
    expect(pts.every((p) => p.category === 'metric' && typeof p.time === 'bigint')).toBe(true);
  });

  it('counts malformed lines by reason and keeps listening', async () => {
    const { input, ctx, port } = await startInput({});
    await sendUdp(port, 'garbage\nx:1|zz\nx:abc|c\n\u0000\u0001\u0002', Buffer.from([0xff, 0xfe, 0x0a, 0x3a]).toString('latin1'), 'ok.v:1|c');
    await aggregated(ctx, 1);
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_statsd_malformed_total')) >= 5);
    expect(await metricValue(ctx.metrics, 'telekit_statsd_malformed_total', { reason: 'bad_type' })).toBe(1);
    expect(await metricValue(ctx.metrics, 'telekit_statsd_malformed_total', { reason: 'bad_value' })).toBe(1);
    await input.flush();
    expect(point(ctx.points, 'ok').fields).toEqual({ v: 1 });
    expect(ctx.errors).toEqual([]);
  });

  it('turns DogStatsD events into keyevent points and service checks into metric points', async () => {
    const { ctx, port } = await startInput({});
    await sendUdp(port, '_e{6,4}:Deploy|done|t:success|h:ci-1|#env:prod', '_sc|db.ping|2|#env:prod|m:timeout', '_e{99,1}:x|y');
    await waitFor(() => ctx.points.length >= 2);
    const ev = point(ctx.points, 'statsd_event');
    expect(ev).toMatchObject({ category: 'keyevent', tags: { env: 'prod', event_host: 'ci-1', df_status: 'ok', alert_type: 'success' }, fields: { df_title: 'Deploy', df_message: 'done' } });
    const sc = point(ctx.points, 'statsd_service_check');
    expect(sc).toMatchObject({ category: 'metric', tags: { check: 'db.ping', status: 'critical', env: 'prod' }, fields: { status: 2n, message: 'timeout' } });
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_statsd_malformed_total', { reason: 'bad_event' })) === 1);
  });

  it('flushes the current aggregates on stop, and stop is idempotent and safe without start', async () => {
    const { input, ctx, port } = await startInput({});
    await sendUdp(port, 'a.b:1|c');
    await aggregated(ctx, 1);
    await Promise.all([input.stop(), input.stop()]);
    expect(point(ctx.points, 'a').fields).toEqual({ b: 1 });
    const v = validate(schema, {});
    if (!v.ok) throw new Error('schema');
    await new StatsdInput(v.value, fakeContext('statsd')).stop();
  });

  it('rejects start when the port is taken, and can start again on the same port after stop', async () => {
    const { input, port } = await startInput({});
    const v = validate(schema, { service_address: `127.0.0.1:${port}` });
    if (!v.ok) throw new Error('schema');
    await expect(new StatsdInput(v.value, fakeContext('statsd')).start()).rejects.toThrow();
    await input.stop();
    const again = new StatsdInput(v.value, fakeContext('statsd'));
    running.push(again);
    await again.start();
  });

  it('drops packets beyond allowed_pending_messages (counted) and parses the rest', async () => {
    const { ctx, port } = await startInput({ allowed_pending_messages: 2 });
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.connect(port, '127.0.0.1', () => r()));
    for (let i = 0; i < 100; i++) s.send(`burst.n:1|c`); // one tick: libuv reads them in one go
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_statsd_metrics_total')) + (await metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason: 'pending_full' })) === 100);
    s.close();
    expect(await metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason: 'pending_full' })).toBeGreaterThan(0);
  });

  it('flushes every interval', async () => {
    const { ctx, port } = await startInput({ interval: '200ms' });
    await sendUdp(port, 'tick.n:1|c');
    await waitFor(() => ctx.points.some((p) => p.name === 'tick'), { timeoutMs: 5000 });
  });
});

describe('statsd over TCP', () => {
  it('reads newline-separated lines split across chunks; the last line needs no newline', async () => {
    const { input, ctx, port } = await startInput({ protocol: 'tcp' });
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('tcp.c:1|c\ntcp.c:2|');
    await new Promise((r) => setTimeout(r, 20)); // force a chunk boundary inside a line
    sock.write('c\ntcp.g:5|g');
    sock.end();
    await aggregated(ctx, 3);
    await input.flush();
    expect(point(ctx.points, 'tcp', { metric_type: 'counter' }).fields).toEqual({ c: 3 });
    expect(point(ctx.points, 'tcp', { metric_type: 'gauge' }).fields).toEqual({ g: 5 });
  });

  it('drops over-long lines (counted) and keeps the connection usable', async () => {
    const { input, ctx, port } = await startInput({ protocol: 'tcp', max_line_bytes: 1024 });
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    sock.write('x'.repeat(4096));
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason: 'line_too_long' })) === 1);
    sock.write('yyyy');
    await new Promise((r) => setTimeout(r, 20)); // separate chunks: the long line ends alone in the next one
    sock.write('zz\n');
    await new Promise((r) => setTimeout(r, 20));
    sock.write('after.ok:1|c\n');
    await aggregated(ctx, 1);
    sock.destroy();
    await input.flush();
    expect(ctx.points.map((p) => p.name)).toEqual(['after']);
    expect(await metricValue(ctx.metrics, 'telekit_statsd_malformed_total')).toBe(0);
  });

  it('closes connections beyond max_tcp_connections and counts them', async () => {
    const { ctx, port } = await startInput({ protocol: 'tcp', max_tcp_connections: 1 });
    const a = net.connect(port, '127.0.0.1');
    await new Promise((r) => a.once('connect', r));
    await waitFor(async () => {
      const b = net.connect(port, '127.0.0.1');
      b.on('error', () => {});
      await new Promise((r) => b.once('close', r));
      return (await metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason: 'tcp_connection_limit' })) >= 1;
    });
    a.destroy();
  });
});

describe('statsd with hot-shots', () => {
  it('receives counters, gauges, timings, histograms, distributions, sets with global and per-call tags and sample rates (UDP)', async () => {
    const { input, ctx, port } = await startInput({});
    vi.spyOn(Math, 'random').mockReturnValue(0); // hot-shots samples on the client: keep every sampled call
    const client = new StatsD({ host: '127.0.0.1', port, globalTags: { env: 'test' }, errorHandler: (e) => ctx.errors.push({ kind: 'client', err: e }) });
    client.increment('shop.orders', 1, { region: 'eu' });
    client.increment('shop.orders', 2, 0.25, { region: 'eu' });
    client.gauge('shop.queue', 7);
    client.timing('shop.checkout', 120, ['region:eu']);
    client.timing('shop.checkout', 80, ['region:eu']);
    client.histogram('shop.basket', 3);
    client.distribution('shop.price', 9.5);
    client.set('shop.buyers', 'u1');
    client.set('shop.buyers', 'u2');
    client.event('Sale started', 'big sale', { alert_type: 'info' }, { team: 'shop' });
    client.check('shop.db', client.CHECKS.OK, { message: 'fine' });
    await aggregated(ctx, 11);
    await new Promise<void>((r) => client.close(() => r()));
    await input.flush();
    const pts = ctx.points;
    expect(point(pts, 'shop', { metric_type: 'counter', region: 'eu', env: 'test' }).fields).toEqual({ orders: 9 });
    expect(point(pts, 'shop', { metric_type: 'gauge', env: 'test' }).fields).toEqual({ queue: 7 });
    expect(point(pts, 'shop', { metric_type: 'timing', region: 'eu' }).fields).toMatchObject({ checkout_count: 2n, checkout_mean: 100, checkout_upper: 120, checkout_lower: 80 });
    expect(point(pts, 'shop', { metric_type: 'histogram' }).fields).toMatchObject({ basket_count: 1n, basket_sum: 3 });
    expect(point(pts, 'shop', { metric_type: 'distribution' }).fields).toMatchObject({ price_count: 1n, price_sum: 9.5 });
    expect(point(pts, 'shop', { metric_type: 'set' }).fields).toEqual({ buyers: 2n });
    expect(point(pts, 'statsd_event', { team: 'shop', env: 'test' }).fields).toMatchObject({ df_title: 'Sale started', df_message: 'big sale' });
    expect(point(pts, 'statsd_service_check', { check: 'shop.db', status: 'ok' }).fields).toMatchObject({ status: 0n, message: 'fine' });
    expect(ctx.errors).toEqual([]);
  });

  it('works over TCP with a buffering client', async () => {
    const { input, ctx, port } = await startInput({ protocol: 'tcp' });
    const client = new StatsD({ host: '127.0.0.1', port, protocol: 'tcp', maxBufferSize: 512, bufferFlushInterval: 10 });
    for (let i = 0; i < 500; i++) client.increment('tcp.calls', 1, { i: String(i % 5) });
    await aggregated(ctx, 500);
    await new Promise<void>((r) => client.close(() => r()));
    await input.flush();
    const total = ctx.points.filter((p) => p.name === 'tcp').reduce((s, p) => s + (p.fields.calls as number), 0);
    expect(total).toBe(500);
    expect(ctx.points.filter((p) => p.name === 'tcp')).toHaveLength(5);
  });
});

describe('statsd sample.conf and README', () => {
  it('validates against the schema with DataKit defaults and is inlined in the README', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const toml = (await import('toml')).default;
    const sample = fs.readFileSync(path.join(import.meta.dirname, 'sample.conf'), 'utf8');
    const v = validate(schema, toml.parse(sample).inputs.statsd[0]);
    expect(v.ok).toBe(true);
    const d = validate(schema, {});
    expect(v.ok && d.ok && v.value).toEqual(d.ok && d.value);
    expect(fs.readFileSync(path.join(import.meta.dirname, 'README.md'), 'utf8')).toContain(sample);
  });

  it('reports bad addresses and mappings as config errors', () => {
    const v = validate(schema, { service_address: 'nope', metric_mapping: ['ok_:ok', 'broken'], metric_separator: '', protocol: 'sctp' });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.issues.map((i) => i.key).sort()).toEqual(['metric_mapping', 'metric_separator', 'protocol', 'service_address']);
  });
});

describe('packets the kernel drops', () => {
  it.runIf(process.platform === 'linux')('counts them as dropped_total{reason="kernel_buffer"} (the socket\'s receive buffer overflowed while the event loop was busy)', async () => {
    const { ctx, port } = await startInput({ read_buffer_size: 4096 });
    const dropped = () => metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason: 'kernel_buffer' });
    // a child sends 2,000 packets of ~1 KiB while this process's event loop is blocked in spawnSync:
    // a 4 KiB receive buffer (doubled by the kernel) cannot hold them
    const { spawnSync } = await import('node:child_process');
    const send = `const s=require('dgram').createSocket('udp4');const b=Buffer.from('k.x:1|c\\n'.repeat(120));let sent=0,done=0;const loop=()=>{for(let i=0;i<100&&sent<2000;i++,sent++)s.send(b,${port},'127.0.0.1',()=>{if(++done===2000)s.close()});if(sent<2000)setImmediate(loop)};loop();`;
    expect(spawnSync(process.execPath, ['-e', send], { timeout: 30_000 }).status).toBe(0);
    await waitFor(async () => (await dropped()) > 0, { what: 'kernel drops counted' });
    expect(await dropped()).toBeLessThanOrEqual(2000);
  });
});
