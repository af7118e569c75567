/**
 * Pipeline scripts end to end: a pod whose `datakit/logs` annotation names
 * `nginx.p`, the script mounted like a ConfigMap (`..data` symlinks), CRI
 * lines written to the pod's log file; at the test dataway the points carry
 * the parsed fields, the status from the HTTP code and the time from the line.
 * A ConfigMap update (the `..data` swap) changes the next lines' fields.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { PodLogs, containerConf, cri } from '../../inputs/container/testdata/logfiles.js';

const NGINX = fs.readFileSync(path.join(import.meta.dirname, '../../inputs/container/testdata/nginx.p'), 'utf8');

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Lays out `files` as kubelet mounts a ConfigMap: `..<ts>/` with the files, `..data` → it, `name` → `..data/name`. */
function configMapVersion(dir: string, version: number, files: Record<string, string>): void {
  const ts = `..2024_05_01_10_00_0${version}.000000000`;
  fs.mkdirSync(path.join(dir, ts));
  for (const [n, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, ts, n), text);
  const tmp = path.join(dir, '..data_tmp');
  fs.symlinkSync(ts, tmp);
  fs.renameSync(tmp, path.join(dir, '..data')); // the atomic swap
  for (const n of Object.keys(files)) if (!fs.existsSync(path.join(dir, n))) fs.symlinkSync(path.join('..data', n), path.join(dir, n));
}

const access = (ip: string, code: number, url: string) => `${ip} - - [01/May/2024:18:20:30 +0800] "GET ${url} HTTP/1.1" ${code} 612 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"`;

describe('Pipeline scripts on the container logs path', () => {
  it('parses a pod annotated with pipeline nginx.p and follows ConfigMap updates of the script', async () => {
    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    api.upsert('pods', makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-web-1', node: 'node-a', containers: [{ name: 'server' }], annotations: { 'datakit/logs': JSON.stringify([{ source: 'nginx', service: 'web', pipeline: 'nginx.p' }]) } }));
    const root = tempDir('ppl-e2e-');
    const logs = new PodLogs(root);
    const f = path.join(logs.dir('shop', 'web-1', 'server', 'uid-web-1'), '0.log');
    fs.writeFileSync(f, '');
    const pdir = path.join(root, 'pipeline');
    fs.mkdirSync(pdir);
    configMapVersion(pdir, 1, { 'nginx.p': NGINX });

    const a: TestAgent = await startTestAgent({
      conf: { 'container/container.conf': containerConf(root) },
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a', ENV_PIPELINE_DIR: pdir, ENV_PIPELINE_TIMEZONE: '+8' },
      watch: true,
    });
    cleanups.push(() => a.stop());

    const t = new Date('2024-05-01T12:00:00Z'); // the CRI time: not the point's
    fs.appendFileSync(f, cri(access('10.0.0.1', 200, '/ok'), 'stdout', 'F', t) + cri(access('10.0.0.2', 404, '/missing'), 'stdout', 'F', t) + cri(access('10.0.0.3', 503, '/down'), 'stdout', 'F', t) + cri('2024/05/01 18:20:31 [warn] 7#7: *3 an upstream response is buffered', 'stderr', 'F', t));
    const points = () => a.dataway.points('logging', 'nginx');
    await waitFor(() => points().length >= 4, { timeoutMs: 15_000, what: '4 nginx points' });
    const byIp = Object.fromEntries(points().map((p) => [String(p.fields.client_ip ?? 'error-line'), p]));
    expect(byIp['10.0.0.1']!.fields).toMatchObject({ status: 'OK', status_code: 200n, bytes: 612n, http_method: 'GET', http_url: '/ok', http_version: '1.1', browser: 'Chrome' });
    expect(byIp['10.0.0.2']!.fields.status).toBe('warning');
    expect(byIp['10.0.0.3']!.fields.status).toBe('error');
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) expect(byIp[ip]!.time).toBe(1714558830000000000n); // 18:20:30 +0800
    const err = byIp['error-line']!;
    expect(err.fields).toMatchObject({ status: 'warning', msg: '7#7: *3 an upstream response is buffered' });
    expect(err.time).toBe(1714558831000000000n); // 18:20:31 at ENV_PIPELINE_TIMEZONE
    expect(byIp['10.0.0.1']!.tags).toMatchObject({ service: 'web', container_name: 'server', namespace: 'shop', pod_name: 'web-1', host: 'test-host' });
    expect(byIp['10.0.0.1']!.fields.message).toBe(access('10.0.0.1', 200, '/ok'));

    // The ConfigMap changes: the next lines get the new script's fields.
    const before = a.agent.pipelines!.get('logging', 'nginx.p');
    configMapVersion(pdir, 2, { 'nginx.p': `${NGINX}\nadd_key(script_version, "v2")\nset_tag(tier, "edge")\n` });
    await waitFor(() => a.agent.pipelines!.get('logging', 'nginx.p') !== before, { timeoutMs: 10_000, what: 'script reloaded' });
    fs.appendFileSync(f, cri(access('10.0.0.4', 301, '/moved'), 'stdout', 'F', t));
    await waitFor(() => points().some((p) => p.fields.client_ip === '10.0.0.4'), { timeoutMs: 15_000, what: 'a line after the reload' });
    const after = points().find((p) => p.fields.client_ip === '10.0.0.4')!;
    expect(after.fields).toMatchObject({ script_version: 'v2', status: 'notice', status_code: 301n });
    expect(after.tags.tier).toBe('edge');
    expect(points().filter((p) => p.fields.client_ip !== '10.0.0.4').every((p) => p.fields.script_version === undefined)).toBe(true);
  });
});
