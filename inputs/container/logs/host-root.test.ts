/**
 * DataKit's DaemonSet mounts the host's / at /rootfs (HOST_ROOT) and no log directory: with that
 * manifest unchanged, pod logs are found under the host root when the default directory is absent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/wait.js';
import { validConfig } from '../../../test/helpers/fake-context.js';
import { schema } from '../config.js';
import { createContainerLogs, logDirUnderRoot } from './logs.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { PodLogs, cri } from '../testdata/logfiles.js';

const hp = (root: string) => ({ root, proc: path.join(root, 'proc'), sys: path.join(root, 'sys'), etc: path.join(root, 'etc') });

describe('log directories under HOST_ROOT', () => {
  it('uses the default directory under the host root only when the default is absent here and present there', () => {
    const has = (...ps: string[]) => (p: string) => ps.includes(p);
    expect(logDirUnderRoot('/var/log/pods', '/var/log/pods', hp('/rootfs'), has('/rootfs/var/log/pods'))).toBe('/rootfs/var/log/pods');
    // the default exists in the agent's own filesystem (mounted): used as it is
    expect(logDirUnderRoot('/var/log/pods', '/var/log/pods', hp('/rootfs'), has('/var/log/pods', '/rootfs/var/log/pods'))).toBe('/var/log/pods');
    // set in the config: used as set, even when absent
    expect(logDirUnderRoot('/logs', '/var/log/pods', hp('/rootfs'), has('/rootfs/var/log/pods'))).toBe('/logs');
    // no host root, or nothing under it: the default
    expect(logDirUnderRoot('/var/log/pods', '/var/log/pods', hp('/'), has('/var/log/pods'))).toBe('/var/log/pods');
    expect(logDirUnderRoot('/var/log/pods', '/var/log/pods', hp('/rootfs'), has())).toBe('/var/log/pods');
  });

  const saved = process.env.HOST_ROOT;
  afterEach(() => {
    if (saved === undefined) delete process.env.HOST_ROOT;
    else process.env.HOST_ROOT = saved;
  });

  it.skipIf(fs.existsSync('/var/log/pods'))('tails pod logs under HOST_ROOT with pod_logs_dir left at its default', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hostroot-'));
    const pods = path.join(root, 'var/log/pods');
    fs.writeFileSync(path.join(new PodLogs(pods).dir('ns', 'web-1', 'web'), '0.log'), cri('hello from the host root') + cri('second line'));
    process.env.HOST_ROOT = root;
    const ctx = fakeCtx();
    const input = createContainerLogs(
      validConfig(schema, { enable_container_metric: false, enable_k8s_metric: false, logging_search_interval: '100ms', logging_file_from_beginning: true }),
      ctx,
    );
    await input.start();
    try {
      await waitFor(() => ctx.points.length >= 2, { timeoutMs: 10_000 });
      expect(ctx.points.map((p) => p.fields.message)).toEqual(['hello from the host root', 'second line']);
      expect(ctx.points[0]!.fields.filepath).toBe(path.join(pods, 'ns_web-1_uid-web-1/web/0.log'));
    } finally {
      await input.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
