/**
 * Container log content end to end: partial lines, a 1 MiB line, binary
 * garbage, ANSI stripping, include/exclude filters, docker json-file logs and
 * where a file is first read from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { PodLogs, containerConf, cri, dockerLine } from '../../inputs/container/testdata/logfiles.js';

const running: TestAgent[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function agentFor(root: string, extra = '', env: Record<string, string> = {}): Promise<TestAgent> {
  const a = await startTestAgent({ conf: { 'container/container.conf': containerConf(root, extra) }, env });
  running.push(a);
  return a;
}

const msgs = (a: TestAgent) => a.dataway.points('logging').map((p) => String(p.fields.message));

/**
 * Writes a marker line and waits for it, then for the logging queue to empty:
 * everything written before the marker has been read and delivered. The marker
 * alone is not enough: batches go out concurrently (ENV_DATAWAY_MAX_CONNECTIONS),
 * so the marker's batch may be answered before an earlier one.
 */
async function barrier(a: TestAgent, file: string, marker = `END-${Math.random()}`): Promise<void> {
  fs.appendFileSync(file, cri(marker));
  await waitFor(() => msgs(a).includes(marker), { timeoutMs: 15_000, what: marker });
  await waitFor(() => a.agent.sender.queued('logging') === 0, { timeoutMs: 15_000, what: 'logging queue drained' });
}

describe('container log content', () => {
  it('joins CRI partial lines and force-emits a 1 MiB line in capped pieces', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    fs.writeFileSync(f, '');
    const a = await agentFor(root);
    fs.appendFileSync(f, cri('hello ', 'stdout', 'P') + cri('ERR line on stderr', 'stderr', 'F') + cri('wor', 'stdout', 'P') + cri('ld', 'stdout', 'F'));
    // A 1 MiB line as containerd writes it: 16 KiB partial pieces, then F.
    const big = 'x'.repeat(1024 * 1024);
    let s = '';
    for (let i = 0; i < big.length; i += 16 * 1024) s += cri(big.slice(i, i + 16 * 1024), 'stdout', i + 16 * 1024 >= big.length ? 'F' : 'P');
    fs.appendFileSync(f, s);
    // The same 1 MiB as a single raw CRI line (a runtime that does not split).
    fs.appendFileSync(f, cri('y'.repeat(1024 * 1024)));
    await barrier(a, f);
    const m = msgs(a);
    expect(m.filter((x) => !/^(x|y|END-)/.test(x))).toEqual(['ERR line on stderr', 'hello world']);
    const xs = m.filter((x) => x.startsWith('x'));
    expect(xs.map((x) => x.length)).toEqual([512 * 1024, 512 * 1024]);
    const ys = m.filter((x) => x.startsWith('y'));
    expect(ys.join('')).toBe('y'.repeat(1024 * 1024));
    expect(Math.max(...ys.map((y) => y.length))).toBeLessThanOrEqual(512 * 1024);
  });

  it('survives binary garbage and keeps reading', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    fs.writeFileSync(f, '');
    const a = await agentFor(root);
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    fs.appendFileSync(f, garbage);
    fs.appendFileSync(f, Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0xc3, 0x28, 0x0a]));
    fs.appendFileSync(f, cri('after garbage'));
    await barrier(a, f);
    expect(msgs(a)).toContain('after garbage');
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/telekit_container_log_parse_errors_total \d+/);
  });

  it('strips ANSI escape codes when configured', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    fs.writeFileSync(f, '');
    const a = await agentFor(root, 'logging_remove_ansi_escape_codes = true');
    fs.appendFileSync(f, cri('\u001b[31mWARN\u001b[0m red \u001b[1;32mgreen\u001b[0m'));
    await barrier(a, f);
    expect(msgs(a)[0]).toBe('WARN red green');
    expect(a.dataway.points('logging')[0]!.fields.status).toBe('warning');
  });

  it('include wins over exclude; namespace and image filters (docker json-file logs)', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    for (const ns of ['keep', 'drop', 'special']) fs.writeFileSync(path.join(logs.dir(ns, 'p', 'c'), '0.log'), cri(`from-${ns}`));
    const docker = path.join(root, '_docker');
    const mk = (id: string, image: string, name: string) => {
      fs.mkdirSync(path.join(docker, id), { recursive: true });
      fs.writeFileSync(path.join(docker, id, 'config.v2.json'), JSON.stringify({ Name: `/${name}`, Config: { Image: image, Env: [], Labels: {} } }));
      fs.writeFileSync(path.join(docker, id, `${id}-json.log`), dockerLine(`from-${name}`));
    };
    mk('a1', 'pubrepo.jiagouyun.com/datakit/datakit:1.2', 'dk');
    mk('b2', 'docker.io/library/nginx:1.25', 'nginx');
    mk('c3', 'registry:5000/team/redis:7', 'redis');
    const a = await agentFor(
      root,
      `container_exclude_log = ["namespace:drop*", "namespace:special", "image:*datakit*", "image_name:registry:5000/*"]
container_include_log = ["namespace:spec*", "image_short_name:redis"]`,
    );
    const last = path.join(logs.dir('keep', 'p2', 'c'), '0.log');
    fs.writeFileSync(last, '');
    await barrier(a, last);
    await waitFor(() => msgs(a).length >= 5);
    expect(msgs(a).filter((m) => m.startsWith('from-')).sort()).toEqual(['from-keep', 'from-nginx', 'from-redis', 'from-special']);
    const nginx = a.dataway.points('logging', 'nginx')[0]!;
    expect(nginx.tags).toMatchObject({ image: 'docker.io/library/nginx:1.25', image_name: 'docker.io/library/nginx', image_tag: '1.25', container_id: 'b2', stream: 'stdout' });
  });

  it('reads files present at first start from the end above the threshold, and new files from the start', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const old = path.join(logs.dir('ns', 'old', 'c'), '0.log');
    const small = path.join(logs.dir('ns', 'small', 'c'), '0.log');
    fs.writeFileSync(old, cri('old-1') + cri('old-2') + 'x'.repeat(2000) + '\n');
    fs.writeFileSync(small, cri('small-1'));
    const a = await agentFor(root, 'logging_file_from_beginning_threshold_size = 1000');
    await waitFor(() => msgs(a).includes('small-1'));
    const fresh = path.join(logs.dir('ns', 'fresh', 'c'), '0.log');
    fs.writeFileSync(fresh, cri('fresh-1'));
    await waitFor(() => msgs(a).includes('fresh-1'));
    await barrier(a, old);
    expect(msgs(a).filter((m) => m.startsWith('old-'))).toEqual([]);
  });

  it('pauses instead of dropping when the logging queue is full', async () => {
    const root = tempDir('logs-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('ns', 'p', 'c'), '0.log');
    fs.writeFileSync(f, '');
    const a = await agentFor(root, 'logging_read_buffer_size = 4096', { ENV_IO_QUEUE_CAPACITY: '300', ENV_IO_MAX_CACHE_COUNT: '100' });
    a.dataway.respond(() => ({ status: 200, delayMs: 20 })); // a slow dataway
    logs.appendLines(f, 'q-', 0, 5000);
    await waitFor(() => msgs(a).length >= 5000, { timeoutMs: 25_000, what: '5000 lines through a 300-point queue' });
    const seen = new Set(msgs(a));
    expect(seen.size).toBe(5000);
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    const dropped = metrics.split('\n').filter((l) => l.startsWith('telekit_') && l.includes('dropped') && l.includes('logging') && !/ 0$/.test(l));
    expect(dropped).toEqual([]);
  }, 40_000);
});
