/**
 * The migration check (`telekit check-config --from-manifest`) on DataKit's own
 * manifest and on seed 000's version of it: every env var, mount, port, input,
 * annotation feature, RBAC need and object is reported, with the list pinned.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifest, parseManifest, type Finding } from '../../cli/manifest-check.js';
import { inputs } from '../../inputs/index.js';
import { runCli } from '../helpers/cli.js';

const SEED = path.join(import.meta.dirname, 'testdata/datakit-seed000.yaml');
const SPEC = path.resolve(import.meta.dirname, '../../../shared/spec/datakit-daemonset.yaml');
const lines = (fs: Finding[]) => fs.map((f) => `${f.status} ${f.kind} ${f.name}`);

/** What the manifest holds, read independently of the check: each must be reported. */
function items(file: string): string[] {
  const docs = parseManifest(fs.readFileSync(file, 'utf8'));
  const ds = docs.find((d) => d.kind === 'DaemonSet')!;
  const c = ds.spec.template.spec.containers[0];
  const out = [
    ...c.env.map((e: any) => `env ${e.name}`),
    ...c.volumeMounts.map((m: any) => `mount ${m.mountPath}`),
    ...c.ports.map((p: any) => `port ${p.containerPort}/${p.protocol}`),
    ...c.env.find((e: any) => e.name === 'ENV_DEFAULT_ENABLED_INPUTS').value.split(',').map((n: string) => `input ${n}`),
    ...docs.filter((d) => d.kind !== 'DaemonSet').map((d) => `object ${d.kind}`),
  ];
  return out;
}

describe('check-config --from-manifest', () => {
  it('reports every item of seed 000\'s manifest (the list is pinned)', () => {
    const found = checkManifest(parseManifest(fs.readFileSync(SEED, 'utf8')), inputs);
    expect(lines(found)).toEqual([
      'change container image pubrepo.guance.com/datakit/datakit:1.84.1',
      'unused env POD_NAME',
      'ok env ENV_K8S_NODE_IP',
      'ok env ENV_K8S_NODE_NAME',
      'ok env ENV_DATAWAY',
      'ok env ENV_CLUSTER_NAME_K8S',
      'ok env ENV_GLOBAL_HOST_TAGS',
      'ok env ENV_NAMESPACE',
      'ok env ENV_GLOBAL_ELECTION_TAGS',
      'ok env ENV_DEFAULT_ENABLED_INPUTS',
      'change env ENV_ENABLE_ELECTION',
      'ok env ENV_HTTP_LISTEN',
      'ok env HOST_PROC',
      'ok env HOST_SYS',
      'ok env HOST_ETC',
      'unused env HOST_VAR',
      'unused env HOST_RUN',
      'unused env HOST_DEV',
      'ok env HOST_ROOT',
      'change mount /usr/local/datakit/cache',
      'ok mount /rootfs',
      'unused mount /var/run',
      'unused mount /sys/kernel/debug',
      'unused mount /var/lib/containerd/container_logs',
      'ok mount /usr/local/datakit/conf.d/container/container.conf',
      'ok mount /usr/local/datakit/conf.d/zipkin/zipkin.conf',
      'ok input cpu',
      'ok input disk',
      'ok input diskio',
      'ok input mem',
      'ok input swap',
      'ok input system',
      'ok input hostobject',
      'ok input net',
      'ok input host_processes',
      'ok input container',
      'ok input statsd',
      'ok input ddtrace',
      'ok input zipkin',
      'ok feature container logs',
      'ok feature log files inside containers',
      'ok pod hostPID',
      'ok pod hostNetwork',
      'unused pod hostIPC',
      'ok pod dnsPolicy',
      'ok pod serviceAccountName',
      'ok pod tolerations',
      'ok pod restartPolicy',
      'ok pod workingDir',
      'ok pod securityContext.privileged',
      'ok pod resources.limits.memory',
      'ok port 9529/TCP (http-port)',
      'ok port 8125/UDP (statsd-port)',
      'unused port 4317/TCP (otel-grpc-port)',
      'missing port 9533/TCP (logfwd-port)',
      'ok annotation datakit/prom.instances',
      'ok annotation prometheus.io/scrape',
      'ok annotation datakit/logs',
      'ok annotation datakit/<container>.logs',
      'ok rbac core/pods',
      'ok rbac core/nodes',
      'ok rbac core/nodes/stats',
      'ok object Namespace datakit',
      'ok object ClusterRole datakit',
      'ok object ServiceAccount datakit/datakit',
      'ok object Service datakit/datakit-service',
      'ok object ClusterRoleBinding datakit',
      'ok object ConfigMap datakit/datakit-conf',
    ]);
    const text = lines(found).join('\n');
    for (const item of items(SEED)) expect(text, item).toContain(item);
    for (const f of found) expect(f.note, `${f.kind} ${f.name}`).not.toBe('');
  });

  it('says what telekit does instead of DataKit\'s default inputs dk and kubernetesprometheus', () => {
    const found = checkManifest(parseManifest(fs.readFileSync(SPEC, 'utf8')), inputs);
    const text = lines(found).join('\n');
    for (const item of items(SPEC)) expect(text, item).toContain(item);
    const dk = found.find((f) => f.kind === 'input' && f.name === 'dk')!;
    expect(dk.status).toBe('missing');
    expect(dk.note).toMatch(/\/metrics/);
    const kp = found.find((f) => f.kind === 'input' && f.name === 'kubernetesprometheus')!;
    expect(kp.status).toBe('missing');
    expect(kp.note).toMatch(/datakit\/prom\.instances/);
    // the spec has no seed additions: host_processes from the env list, no conf mounts
    expect(lines(found).filter((l) => l.includes(' input '))).toEqual([
      'ok input statsd', 'missing input dk', 'ok input cpu', 'ok input disk', 'ok input diskio', 'ok input mem', 'ok input swap',
      'ok input system', 'ok input hostobject', 'ok input net', 'ok input host_processes', 'ok input container', 'missing input kubernetesprometheus',
    ]);
  });

  it('reports a ConfigMap conf that telekit rejects as an error', () => {
    const text = fs.readFileSync(SEED, 'utf8').replace('exclude_pause_container = true', 'exclude_pause_container = "maybe"');
    const found = checkManifest(parseManifest(text), inputs);
    const bad = found.filter((f) => f.status === 'error');
    expect(bad.map((f) => `${f.kind} ${f.name}`)).toEqual(['input container']);
    expect(bad[0]!.note).toMatch(/exclude_pause_container/);
  });

  it('runs from the CLI, and check-config names the conf.d folders it read', async () => {
    const r = await runCli(['check-config', '--from-manifest', SEED]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^migration check of .*: 0 error, 3 change, 1 missing, 9 unused, 55 ok$/m);
    expect(r.stdout).toMatch(/^unused +port 4317\/TCP/m);

    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-dkdir-'));
    try {
      fs.mkdirSync(path.join(root, 'datakit/conf.d/zipkin'), { recursive: true });
      fs.mkdirSync(path.join(root, 'datakit/pipeline'));
      fs.mkdirSync(path.join(root, 'telekit'));
      fs.writeFileSync(path.join(root, 'datakit/conf.d/zipkin/zipkin.conf'), '[[inputs.zipkin]]\n');
      const c = await runCli(['check-config', '--conf-dir', path.join(root, 'telekit'), '--datakit-dir', path.join(root, 'datakit')]);
      expect(c.code).toBe(0);
      expect(c.stdout).toContain(`conf.d folders read: ${path.join(root, 'telekit')}, ${path.join(root, 'datakit/conf.d')}`);
      // telekit's own pipeline/ beside its conf.d is absent: DataKit's folder is the one read
      expect(c.stdout).toContain(`pipeline scripts: 0 loaded from ${path.relative(process.cwd(), path.join(root, 'datakit/pipeline'))}`);
      expect(c.stdout).toMatch(/zipkin\[0\]/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
