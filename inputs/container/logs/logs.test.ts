/**
 * The logs part with a fake pod watcher and accumulator: per-container config
 * priority, filters on pod images, pause containers, tags, backpressure, and
 * positions saved only after acknowledgement.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/wait.js';
import { schema, type ContainerConfig } from '../config.js';
import { createContainerLogs } from './logs.js';
import { resolveLogConfig } from './logs-config.js';
import { FakePods, validConfig } from '../../../test/helpers/fake-context.js';
import { fakeCtx, pod } from '../testdata/fake-context.js';
import { PodLogs, cri } from '../testdata/logfiles.js';
import type { Input } from '../../../agent/input/contract.js';
import os from 'node:os';

function config(o: Record<string, unknown>): ContainerConfig {
  return validConfig(schema, { enable_container_metric: false, enable_k8s_metric: false, logging_search_interval: '100ms', ...o });
}

const started: Input[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.stop();
});

const container = (name: string, image: string, env: Record<string, string> = {}) => ({ name, image, id: `id-${name}`, runtime: 'containerd', restartCount: 0, ready: true, env });

describe('resolveLogConfig', () => {
  it('takes env over the container annotation over the pod annotation', () => {
    const ann = { 'datakit/logs': '[{"source":"pod-src"}]', 'datakit/app.logs': '[{"source":"ctr-src","service":"svc","tags":{"a":"b"}}]' };
    expect(resolveLogConfig('app', { DATAKIT_LOGS_CONFIG: '[{"source":"env-src"}]' }, ann)).toMatchObject({ origin: 'env', config: { source: 'env-src', service: 'env-src' } });
    expect(resolveLogConfig('app', {}, ann)).toMatchObject({ origin: 'container-annotation', config: { source: 'ctr-src', service: 'svc', tags: { a: 'b' } } });
    expect(resolveLogConfig('other', {}, ann)).toMatchObject({ origin: 'pod-annotation', config: { source: 'pod-src' } });
    expect(resolveLogConfig('x', {}, {})).toMatchObject({ origin: 'default', config: { source: 'x', service: 'x', disable: false } });
  });
  it('reports invalid values and falls back to defaults', () => {
    expect(resolveLogConfig('x', {}, { 'datakit/logs': '{nope' })).toMatchObject({ origin: 'pod-annotation', config: { source: 'x' }, error: expect.stringContaining('invalid JSON') });
    expect(resolveLogConfig('x', {}, { 'datakit/logs': '[{"type":"other"}]' }).error).toMatch(/no stdout or file entry/);
  });
  it('reads type file entries; with no stdout entry only the files are collected, as in DataKit', () => {
    const only = resolveLogConfig('x', {}, { 'datakit/logs': '[{"type":"file","path":"/app/*.log","source":"java","tags":{"t":"1"}},{"type":"file","path":"/off.log","disable":true},{"type":"file"}]' });
    expect(only.error).toBeUndefined();
    expect(only.config.disable).toBe(true);
    expect(only.files).toMatchObject([{ path: '/app/*.log', config: { source: 'java', service: 'java', tags: { t: '1' }, disable: false } }]);
    const both = resolveLogConfig('x', {}, { 'datakit/logs': '[{"type":"file","path":"/a.log"},{"source":"out"}]' });
    expect(both.config).toMatchObject({ source: 'out', disable: false });
    expect(both.files).toMatchObject([{ path: '/a.log', config: { source: 'x' } }]);
  });
});

describe('container logs with pod discovery', () => {
  it('applies annotations, filters by pod image, skips pause, tags points with pod facts', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pods-'));
    const logs = new PodLogs(root);
    const pods = new FakePods();
    pods.upsert(
      pod({
        namespace: 'shop',
        name: 'web-1',
        owner: { kind: 'deployment', name: 'web' },
        annotations: { 'datakit/logs': '[{"source":"shop-web","multiline_match":"^\\\\d{4}-","tags":{"team":"a"}}]', 'datakit/sidecar.logs': '[{"disable":true}]' },
        containers: [container('app', 'docker.io/acme/web:2.1', { DATAKIT_LOGS_CONFIG: '[{"source":"from-env","service":"websvc","remove_ansi_escape_codes":true}]' }), container('nginx', 'nginx:1.25'), container('sidecar', 'envoy:1'), container('dk', 'pubrepo.jiagouyun.com/datakit/datakit:1')],
      }),
    );
    for (const c of ['app', 'nginx', 'sidecar', 'dk', 'POD']) fs.writeFileSync(path.join(logs.dir('shop', 'web-1', c, 'uid-web-1'), '0.log'), cri(`2024-01-01 ${c} first`) + cri(`  continued \u001b[1m${c}\u001b[0m`));
    const ctx = fakeCtx(pods);
    const input = createContainerLogs(config({ pod_logs_dir: root, logging_multiline_timeout: '50ms' }), ctx);
    started.push(input);
    await input.start();
    await waitFor(() => ctx.points.length >= 2);
    await new Promise((r) => setTimeout(r, 300)); // nothing else may arrive (negative check)
    const names = [...new Set(ctx.points.map((p) => p.name))].sort();
    expect(names).toEqual(['from-env', 'shop-web']);
    // The env config replaces the annotations entirely: no multiline pattern, ANSI stripped, no team tag.
    const app = ctx.points.filter((p) => p.name === 'from-env');
    expect(app.map((p) => p.fields.message)).toEqual(['2024-01-01 app first', '  continued app']);
    expect(app[0]!.tags.service).toBe('websvc');
    expect(app[0]!.tags.team).toBeUndefined();
    const byName = Object.fromEntries(ctx.points.map((p) => [p.name, p]));
    expect(byName['shop-web']!.tags).toMatchObject({
      service: 'shop-web',
      team: 'a',
      container_name: 'nginx',
      container_id: 'id-nginx',
      image: 'nginx:1.25',
      image_name: 'nginx',
      image_tag: '1.25',
      namespace: 'shop',
      pod_name: 'web-1',
      pod_ip: '10.1.2.3',
      deployment: 'web',
      node_name: 'node-1',
      stream: 'stdout',
    });
    expect(byName['shop-web']!.fields.message).toBe('2024-01-01 nginx first\n  continued \u001b[1mnginx\u001b[0m');
  });

  it('pauses reading while the queue is full and saves positions only after acks', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pods-'));
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    let s = '';
    for (let i = 0; i < 20000; i++) s += cri(`line-${i} ${'x'.repeat(100)}`);
    fs.writeFileSync(f, s); // ~3 MiB
    const ctx = fakeCtx();
    let release!: () => void;
    ctx.acc.gate = new Promise((r) => (release = r));
    ctx.acc.autoAck = false;
    const input = createContainerLogs(config({ pod_logs_dir: root, logging_read_buffer_size: 65536 }), ctx);
    started.push(input);
    await input.start();
    const bytes = async () => (await ctx.metrics.getSingleMetric('telekit_container_log_bytes_total')!.get()).values[0]?.value ?? 0;
    await waitFor(async () => (await bytes()) > 0);
    await new Promise((r) => setTimeout(r, 200));
    // Blocked in addWait after the first chunk: at most one read chunk consumed.
    expect(await bytes()).toBeLessThanOrEqual(65536);
    expect(ctx.points).toHaveLength(0);
    ctx.acc.gate = undefined;
    release();
    await waitFor(() => ctx.points.length === 20000, { what: 'all lines' });
    const posFile = path.join(ctx.dataDir, 'container', 'positions.json');
    const offset = () => (JSON.parse(fs.readFileSync(posFile, 'utf8')) as { positions: { offset: number }[] }).positions[0]?.offset;
    expect(offset()).toBe(0); // nothing acknowledged yet
    const half = ctx.acc.acks.splice(0, Math.floor(ctx.acc.acks.length / 2));
    for (const a of half.reverse()) a(); // out of order: the position still advances only over a contiguous prefix
    await waitFor(() => (offset() ?? 0) > 0);
    expect(offset()).toBeLessThan(fs.statSync(f).size);
    for (const a of ctx.acc.acks.splice(0)) a();
    await waitFor(() => offset() === fs.statSync(f).size, { what: 'position at end' });
  });

  it('removes the positions of deleted containers', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pods-'));
    const logs = new PodLogs(root);
    const gone = path.join(logs.dir('ns', 'gone', 'c'), '0.log');
    const stays = path.join(logs.dir('ns', 'stays', 'c'), '0.log');
    fs.writeFileSync(gone, cri('a'));
    fs.writeFileSync(stays, cri('b'));
    const ctx = fakeCtx();
    const input = createContainerLogs(config({ pod_logs_dir: root }), ctx);
    started.push(input);
    await input.start();
    const posFile = path.join(ctx.dataDir, 'container', 'positions.json');
    const paths = () => (JSON.parse(fs.readFileSync(posFile, 'utf8')) as { positions: { path: string; offset: number }[] }).positions.filter((p) => p.offset > 0).map((p) => p.path).sort();
    await waitFor(() => paths().length === 2, { what: 'two positions' });
    fs.rmSync(path.dirname(path.dirname(gone)), { recursive: true });
    await waitFor(() => paths().length === 1, { what: 'position of the deleted pod removed' });
    expect(paths()).toEqual([stays]);
  });

  it('tails at most logging_max_open_files files, and takes the others when room frees', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pods-'));
    const logs = new PodLogs(root);
    const files = ['a', 'b', 'c'].map((p) => path.join(logs.dir('ns', p, 'c'), '0.log'));
    for (const [i, f] of files.entries()) fs.writeFileSync(f, cri(`from-${i}`));
    const ctx = fakeCtx();
    const input = createContainerLogs(config({ pod_logs_dir: root, logging_max_open_files: 2 }), ctx);
    started.push(input);
    await input.start();
    await waitFor(() => ctx.points.length === 2, { what: 'two files' });
    const skipped = async () => (await ctx.metrics.getSingleMetric('telekit_container_log_skipped_files_total')!.get()).values.reduce((a, v) => a + v.value, 0);
    expect(await skipped()).toBeGreaterThan(0);
    const read = new Set(ctx.points.map((p) => String(p.fields.message)));
    const first = files.find((_, i) => read.has(`from-${i}`))!;
    fs.rmSync(path.dirname(path.dirname(first)), { recursive: true });
    await waitFor(() => ctx.points.length === 3, { what: 'the third file once room freed' });
    expect(new Set(ctx.points.map((p) => String(p.fields.message))).size).toBe(3);
  });
});
