/**
 * The built `telekit run` as in a DaemonSet pod: the host's root "mounted" at a
 * fake /rootfs and HOST_PROC / HOST_SYS / HOST_ROOT set like DataKit's
 * manifest. The host inputs must read the host's files, not the agent's; then
 * `telekit monitor --once` shows the running agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { fakeRoot } from '../../agent/services/host/fake-root.js';
import { runCli, startCli } from '../helpers/cli.js';
import { TestDataway } from '../helpers/dataway.js';
import { freePort, waitFor } from '../helpers/wait.js';

describe('host inputs in container mode (built command)', () => {
  const rootfs = fakeRoot({
    'proc/stat': 'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\nbtime 1700000000\n',
    'proc/loadavg': '3.00 2.00 1.00 1/100 1\n',
    'proc/meminfo': 'MemTotal: 4000000 kB\nMemFree: 1000000 kB\nMemAvailable: 2000000 kB\nBuffers: 0 kB\nCached: 1000000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n',
    'proc/uptime': '99.0 1.0\n',
    'proc/sys/fs/file-nr': '100\t0\t1000000\n',
  });
  let dataway: TestDataway;
  let run: ReturnType<typeof startCli>;
  let url: string;

  beforeAll(async () => {
    dataway = await TestDataway.start();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    run = startCli(['run', '--conf-dir', `${rootfs.root}/conf.d`, '--data-dir', `${rootfs.root}/data`], {
      ENV_DATAWAY: dataway.url,
      ENV_HTTP_LISTEN: `127.0.0.1:${port}`,
      ENV_IO_FLUSH_INTERVAL: '100ms',
      ENV_HOSTNAME: 'node-a',
      ENV_DEFAULT_ENABLED_INPUTS: 'mem,system',
      ENV_INPUT_MEM_INTERVAL: '1s',
      HOST_PROC: `${rootfs.root}/proc`,
      HOST_SYS: `${rootfs.root}/sys`,
      HOST_ROOT: rootfs.root,
    });
  });
  afterAll(async () => {
    run?.proc.kill('SIGTERM');
    await run?.exited;
    await dataway?.close();
    rootfs.remove();
  });

  it("reports the host's memory and load from HOST_PROC", async () => {
    const [mem] = await dataway.waitForPoints('metric', 1, { name: 'mem', timeoutMs: 20_000 });
    expect(mem!.tags.host).toBe('node-a');
    expect(n(mem!.fields.total)).toBe(4_000_000 * 1024);
    expect(mem!.fields.used_percent).toBeCloseTo(50);
    const [sys] = await dataway.waitForPoints('metric', 1, { name: 'system' });
    expect(sys!.fields.load1).toBe(3);
    expect(Number(sys!.fields.n_cpus)).toBe(1);
    expect(n(sys!.fields.uptime)).toBe(99);
  });

  it('`telekit monitor --url … --once` prints the running inputs', async () => {
    await waitFor(async () => (await fetch(`${url}/v1/ping`)).ok, { what: 'agent up' });
    const r = await runCli(['monitor', '--url', url, '--once', '--interval', '300']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^telekit \S+ {2}host node-a/);
    expect(r.stdout).toMatch(/^mem\[0\]\s+\S+\s+\d+\s+0$/m);
    expect(r.stdout).toMatch(/^system\[0\]\s+/m);
  });
});
