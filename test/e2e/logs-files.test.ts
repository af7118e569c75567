/**
 * Log files inside containers end to end (issue 21): a pod from the fixture
 * API server annotated with `datakit/logs` entries of `"type": "file"`; its
 * container's root filesystem (containerd's task `rootfs`; docker's and CRI-O's
 * overlay layers, found through their maps) and an emptyDir
 * volume laid out under a temp "host"; the application writes and rotates its
 * files; the lines arrive at the test dataway with the entry's source, service
 * and tags. Entries whose path reaches outside the container (`../../`, a host
 * path, a symlink to a host file, a symlinked directory) read nothing and are
 * counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { containerConf } from '../../inputs/container/testdata/logfiles.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ID = '4f1c9a0e7b2d';
const UID = 'uid-orders-1';

async function metric(t: TestAgent, name: string, reason: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const m = new RegExp(`${name}\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

function append(file: string, prefix: string, from: number, to: number): void {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix}${i}\n`;
  fs.appendFileSync(file, s);
}

describe('log files inside containers (datakit/logs type file)', () => {
  it('collects files in the rootfs and an emptyDir volume through rotation; paths reaching out read nothing and are counted', async () => {
    const host = tempDir('inside-e2e-');
    cleanups.push(() => fs.rmSync(host, { recursive: true, force: true }));
    const taskDir = path.join(host, 'run/containerd/io.containerd.runtime.v2.task/k8s.io');
    const kubeletDir = path.join(host, 'var/lib/kubelet/pods');
    const rootfs = path.join(taskDir, ID, 'rootfs');
    const volume = path.join(kubeletDir, UID, 'volumes/kubernetes.io~empty-dir/out');
    fs.mkdirSync(path.join(rootfs, 'app/logs'), { recursive: true });
    fs.mkdirSync(volume, { recursive: true });
    // Host files the workload must not reach.
    const secretDir = path.join(host, 'etc');
    fs.mkdirSync(secretDir);
    const secret = path.join(secretDir, 'shadow.log');
    fs.writeFileSync(secret, 'SECRET-1\nSECRET-2\n');
    fs.symlinkSync(secret, path.join(rootfs, 'app/link.log')); // a symlink inside the container to a host file
    fs.symlinkSync(secretDir, path.join(rootfs, 'app/linkdir')); // a symlinked directory
    // A directory inside the container whose log file is swapped for a symlink later.
    fs.mkdirSync(path.join(rootfs, 'app/swap'));
    fs.writeFileSync(path.join(rootfs, 'app/swap/s.log'), 'SWAP-OK\n');

    const app = path.join(rootfs, 'app/logs/app.log');
    fs.writeFileSync(app, '');
    const vol = path.join(volume, 'v.log');
    fs.writeFileSync(vol, '');

    const entries = [
      { type: 'file', path: '/app/logs/*.log', source: 'java-app', service: 'orders', tags: { team: 'pay', tier: 'backend' } },
      { type: 'file', path: '/data/out/*.log', source: 'vol-app', tags: { kind: 'volume' } },
      { type: 'file', path: '/app/swap/s.log', source: 'swap-app' },
      { type: 'file', path: '/app/../../../../../../../etc/shadow.log', source: 'evil-climb' },
      { type: 'file', path: secret, source: 'evil-hostpath' },
      { type: 'file', path: '/app/link.log', source: 'evil-link' },
      { type: 'file', path: '/app/linkdir/*.log', source: 'evil-dir' },
    ];
    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    api.upsert(
      'pods',
      makePod({
        name: 'orders-1',
        namespace: 'shop',
        uid: UID,
        node: 'node-a',
        containers: [{ name: 'app', id: `containerd://${ID}`, image: 'registry/orders:1.2', mounts: [{ name: 'out', mountPath: '/data/out' }] }],
        volumes: [{ name: 'out', kind: 'emptyDir' }],
        annotations: { 'datakit/logs': JSON.stringify(entries) },
      }),
    );
    const podLogs = path.join(host, 'var/log/pods');
    fs.mkdirSync(podLogs, { recursive: true });
    const extra = `logging_containerd_task_dir = ${JSON.stringify(taskDir)}\nlogging_kubelet_pods_dir = ${JSON.stringify(kubeletDir)}\nlogging_file_from_beginning = true`;
    const a = await startTestAgent({
      conf: { 'container/container.conf': containerConf(podLogs, extra) },
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a' },
    });
    cleanups.push(() => a.stop());

    const msgs = (source: string) => a.dataway.points('logging', source).map((p) => String(p.fields.message));
    const exactly = async (source: string, prefix: string, n: number) => {
      await waitFor(() => msgs(source).filter((m) => m.startsWith(prefix)).length >= n, { timeoutMs: 15_000, what: `${n} ${prefix} lines` });
      const got = msgs(source).filter((m) => m.startsWith(prefix));
      expect(new Set(got).size).toBe(got.length); // no duplicates
      expect(got.length).toBe(n);
    };

    append(app, 'a-', 0, 300);
    append(vol, 'v-', 0, 100);
    await exactly('java-app', 'a-', 300);
    await exactly('vol-app', 'v-', 100);
    const p = a.dataway.points('logging', 'java-app')[0]!;
    expect(p.tags).toMatchObject({ service: 'orders', team: 'pay', tier: 'backend', container_name: 'app', container_id: ID, namespace: 'shop', pod_name: 'orders-1', host: 'test-host' });
    expect(p.tags.stream).toBeUndefined();
    expect(p.fields).toMatchObject({ filepath: '/app/logs/app.log', message: 'a-0' });
    const v = a.dataway.points('logging', 'vol-app')[0]!;
    expect(v.tags).toMatchObject({ service: 'vol-app', kind: 'volume', pod_name: 'orders-1' });
    expect(v.fields.filepath).toBe('/data/out/v.log');

    // Rotation by rename (logback/log4j style): the old file keeps a few late lines, a new one starts.
    fs.renameSync(app, `${app}.1`);
    append(`${app}.1`, 'a-', 300, 350);
    append(app, 'a-', 350, 600);
    await exactly('java-app', 'a-', 600);
    // Copytruncate in the volume.
    append(vol, 'v-', 100, 150);
    fs.copyFileSync(vol, `${vol}.1`);
    fs.truncateSync(vol, 0);
    append(vol, 'v-', 150, 200);
    await exactly('vol-app', 'v-', 200);

    // The file in app/swap is read, then swapped for a symlink to the host file: the reopen refuses it.
    await waitFor(() => msgs('swap-app').includes('SWAP-OK'), { what: 'SWAP-OK' });
    const swapped = path.join(rootfs, 'app/swap/s.log');
    fs.renameSync(swapped, `${swapped}.1`);
    fs.symlinkSync(secret, swapped);

    // Refusals: counted by reason.
    await waitFor(async () => (await metric(a, 'telekit_container_log_file_paths_refused_total', 'climbs_out')) > 0, { what: 'climbs_out counted' });
    await waitFor(async () => (await metric(a, 'telekit_container_log_file_paths_refused_total', 'symlink_dir')) > 0, { what: 'symlink_dir counted' });
    await waitFor(async () => (await metric(a, 'telekit_container_log_files_refused_total', 'symlink')) >= 2, { what: 'final symlinks refused (link.log, the swapped s.log)' });
    // The host path is read inside the container, where it does not exist: an unmatched entry, nothing read.
    await waitFor(async () => /telekit_container_log_file_entries\{state="unmatched"\} 1\b/.test(await (await fetch(`${a.url}/metrics`)).text()), { what: 'unmatched entry' });

    // More lines after the refusals still flow; nothing from the host ever arrived.
    append(app, 'a-', 600, 650);
    await exactly('java-app', 'a-', 650);
    const all = a.dataway.points('logging').map((x) => String(x.fields.message));
    expect(all.filter((m) => m.includes('SECRET'))).toEqual([]);
    for (const s of ['evil-climb', 'evil-hostpath', 'evil-link', 'evil-dir']) expect(a.dataway.points('logging', s)).toEqual([]);
    // No stdout entry in the value: the container's stdout is not collected (DataKit's rule).
    expect(a.dataway.points('logging', 'app')).toEqual([]);
  });

  it('resumes after a restart without loss or duplicates, refuses a symlink planted while stopped, and runs the source\'s Pipeline script', async () => {
    const host = tempDir('inside-restart-');
    cleanups.push(() => fs.rmSync(host, { recursive: true, force: true }));
    const taskDir = path.join(host, 'tasks');
    const logsDir = path.join(taskDir, ID, 'rootfs/app/logs');
    fs.mkdirSync(logsDir, { recursive: true });
    const secret = path.join(host, 'secret.log');
    fs.writeFileSync(secret, 'SECRET-1\n');
    const app = path.join(logsDir, 'app.log');
    fs.writeFileSync(app, '');
    const pdir = path.join(host, 'pipeline');
    fs.mkdirSync(pdir);
    fs.writeFileSync(path.join(pdir, 'java-app.p'), 'add_key(parsed_by, "java-app.p")\n');
    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    api.upsert(
      'pods',
      makePod({ name: 'orders-1', namespace: 'shop', uid: UID, node: 'node-a', containers: [{ name: 'app', id: `containerd://${ID}` }], annotations: { 'datakit/logs': JSON.stringify([{ type: 'file', path: '/app/logs/*.log', source: 'java-app' }]) } }),
    );
    const podLogs = path.join(host, 'pods');
    fs.mkdirSync(podLogs);
    const conf = containerConf(podLogs, `logging_containerd_task_dir = ${JSON.stringify(taskDir)}\nlogging_kubelet_pods_dir = ${JSON.stringify(path.join(host, 'kubelet'))}`);
    const dataway = await TestDataway.start();
    cleanups.push(() => dataway.close());
    const dataDir = tempDir('inside-restart-data-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const start = async () => {
      const a = await startTestAgent({ conf: { 'container/container.conf': conf }, env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a', ENV_PIPELINE_DIR: pdir }, dataway, dataDir });
      cleanups.push(() => a.stop());
      return a;
    };
    const msgs = () => dataway.points('logging', 'java-app').map((p) => String(p.fields.message));
    const exactly = async (n: number) => {
      await waitFor(() => msgs().length >= n, { timeoutMs: 15_000, what: `${n} lines` });
      expect(new Set(msgs()).size).toBe(msgs().length);
      expect(msgs().length).toBe(n);
    };

    let a = await start();
    append(app, 'r-', 0, 200);
    await exactly(200);
    expect(dataway.points('logging', 'java-app')[0]!.fields.parsed_by).toBe('java-app.p');
    await a.stop();
    // While stopped: more lines, and a file matching the glob that is a symlink to a host file.
    append(app, 'r-', 200, 300);
    fs.symlinkSync(secret, path.join(logsDir, 'z.log'));
    a = await start();
    await exactly(300);
    await waitFor(async () => (await metric(a, 'telekit_container_log_files_refused_total', 'symlink')) > 0, { what: 'z.log refused' });
    expect(dataway.points('logging').filter((p) => String(p.fields.message).includes('SECRET'))).toEqual([]);
    // The entry is disabled in the annotation: its tailer reads what is left and stops.
    append(app, 'r-', 300, 320);
    api.upsert(
      'pods',
      makePod({ name: 'orders-1', namespace: 'shop', uid: UID, node: 'node-a', containers: [{ name: 'app', id: `containerd://${ID}` }], annotations: { 'datakit/logs': JSON.stringify([{ type: 'file', path: '/app/logs/*.log', source: 'java-app', disable: true }]) } }),
    );
    await waitFor(async () => /telekit_container_log_open_files 0\b/.test(await (await fetch(`${a.url}/metrics`)).text()), { timeoutMs: 15_000, what: 'the tailer drained' });
    await exactly(320);
  });

  it("reads docker's and CRI-O's container root filesystems through the runtimes' layer maps; a layer id that climbs out reads nothing and is counted", async () => {
    const host = tempDir('inside-layers-');
    cleanups.push(() => fs.rmSync(host, { recursive: true, force: true }));
    const docker = path.join(host, 'var/lib/docker');
    const crio = path.join(host, 'var/lib/containers/storage');
    const mountId = (id: string, layer: string) => {
      fs.mkdirSync(path.join(docker, 'image/overlay2/layerdb/mounts', id), { recursive: true });
      fs.writeFileSync(path.join(docker, 'image/overlay2/layerdb/mounts', id, 'mount-id'), layer);
    };
    mountId('d0c4e1', '9f8e7d6c5b4a');
    mountId('e4e4e4', '../../../../etc'); // a map that would lead out: refused
    const dockerLogs = path.join(docker, 'overlay2/9f8e7d6c5b4a/merged/app/logs');
    const crioLogs = path.join(crio, 'overlay/aaa111/merged/var/log/app');
    fs.mkdirSync(dockerLogs, { recursive: true });
    fs.mkdirSync(crioLogs, { recursive: true });
    fs.mkdirSync(path.join(host, 'etc'));
    fs.writeFileSync(path.join(host, 'etc/shadow.log'), 'SECRET-1\n');
    fs.mkdirSync(path.join(crio, 'overlay-containers'), { recursive: true });
    fs.writeFileSync(path.join(crio, 'overlay-containers/containers.json'), JSON.stringify([{ id: 'c71c71', names: ['k8s_app'], layer: 'aaa111' }]));
    const d = path.join(dockerLogs, 'app.log');
    const c = path.join(crioLogs, 'app.log');
    fs.writeFileSync(d, '');
    fs.writeFileSync(c, '');

    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    const pod = (name: string, uid: string, id: string, entries: object[]) =>
      api.upsert('pods', makePod({ name, namespace: 'shop', uid, node: 'node-a', containers: [{ name: 'app', id }], annotations: { 'datakit/logs': JSON.stringify(entries) } }));
    pod('on-docker', 'uid-d', 'docker://d0c4e1', [{ type: 'file', path: '/app/logs/*.log', source: 'docker-app', tags: { rt: 'docker' } }]);
    pod('on-crio', 'uid-c', 'cri-o://c71c71', [{ type: 'file', path: '/var/log/app/app.log', source: 'crio-app', service: 'svc-c' }]);
    pod('evil', 'uid-e', 'docker://e4e4e4', [{ type: 'file', path: '/shadow.log', source: 'evil-layer' }]);
    const podLogs = path.join(host, 'var/log/pods');
    fs.mkdirSync(podLogs, { recursive: true });
    const extra = [
      `logging_containerd_task_dir = ${JSON.stringify(path.join(host, 'tasks'))}`,
      `logging_kubelet_pods_dir = ${JSON.stringify(path.join(host, 'kubelet'))}`,
      `logging_docker_data_dir = ${JSON.stringify(docker)}`,
      `logging_crio_storage_dir = ${JSON.stringify(crio)}`,
      'logging_file_from_beginning = true',
    ].join('\n');
    const a = await startTestAgent({
      conf: { 'container/container.conf': containerConf(podLogs, extra) },
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a' },
    });
    cleanups.push(() => a.stop());

    const msgs = (source: string) => a.dataway.points('logging', source).map((p) => String(p.fields.message));
    append(d, 'd-', 0, 100);
    append(c, 'c-', 0, 100);
    await waitFor(() => msgs('docker-app').length >= 100 && msgs('crio-app').length >= 100, { timeoutMs: 15_000, what: '100 lines from each runtime' });
    expect(msgs('docker-app')).toEqual(Array.from({ length: 100 }, (_, i) => `d-${i}`));
    expect(msgs('crio-app')).toEqual(Array.from({ length: 100 }, (_, i) => `c-${i}`));
    expect(a.dataway.points('logging', 'docker-app')[0]!).toMatchObject({ tags: { rt: 'docker', container_id: 'd0c4e1', pod_name: 'on-docker' }, fields: { filepath: '/app/logs/app.log' } });
    expect(a.dataway.points('logging', 'crio-app')[0]!).toMatchObject({ tags: { service: 'svc-c', container_id: 'c71c71', pod_name: 'on-crio' }, fields: { filepath: '/var/log/app/app.log' } });
    await waitFor(async () => (await metric(a, 'telekit_container_log_file_paths_refused_total', 'runtime_unsupported')) > 0, { what: 'the climbing layer id counted' });
    expect(a.dataway.points('logging', 'evil-layer')).toEqual([]);
    expect(a.dataway.points('logging').filter((p) => String(p.fields.message).includes('SECRET'))).toEqual([]);
  });
});
