/**
 * "Swap the image, keep the manifest": seed 000's DataKit DaemonSet
 * (testdata/datakit-seed000.yaml) run with telekit. The container's env and
 * its ConfigMap subPath mounts are laid out under a temp root exactly as the
 * manifest says (/usr/local/datakit/conf.d/container/container.conf, ...;
 * /rootfs → the host's /), the image's own conf.d as the Dockerfile leaves it
 * (samples only), and the agent is started the way the CLI starts it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadAll } from 'js-yaml';
import { pino } from 'pino';
import toml from 'toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/runtime/agent.js';
import { confFolders } from '../../cli/datakit-paths.js';
import { inputs } from '../../inputs/index.js';
import { TestDataway } from '../helpers/dataway.js';
// @ts-expect-error plain ESM helper without types
import { DEFAULT_ON } from '../../scripts/default-on.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MANIFEST = path.join(import.meta.dirname, 'testdata/datakit-seed000.yaml');
const SEED_INPUTS = 'cpu,disk,diskio,mem,swap,system,hostobject,net,host_processes,container,statsd,ddtrace';

type Obj = { kind: string; metadata: { name: string }; [k: string]: any };
const objs = loadAll(fs.readFileSync(MANIFEST, 'utf8')).filter((x): x is Obj => typeof x === 'object' && x !== null);
const ds = objs.find((o) => o.kind === 'DaemonSet')!;
const pod = ds.spec.template.spec;
const c = pod.containers[0];

/** The pod's filesystem under `root`: ConfigMap keys at their mountPath, /rootfs → /, the image's conf.d (samples only). */
function layout(root: string): void {
  const vols = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
  for (const m of c.volumeMounts) {
    const v = vols.get(m.name);
    const at = path.join(root, m.mountPath);
    if (v?.configMap) {
      const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap.name)!;
      fs.mkdirSync(path.dirname(at), { recursive: true });
      fs.writeFileSync(at, cm.data[m.subPath]);
    } else if (v?.hostPath?.path === '/') {
      fs.symlinkSync('/', at);
    }
  }
  const image = path.join(root, 'usr/local/telekit/conf.d');
  fs.cpSync(path.join(ROOT, 'conf.d'), image, { recursive: true });
  for (const f of fs.readdirSync(image, { recursive: true, encoding: 'utf8' })) if (f.endsWith('.conf')) fs.rmSync(path.join(image, f));
}

/**
 * The container's env: values as written (host paths moved under `root`), ports made ephemeral.
 * No cluster runs here, so the downward-API values (node name and IP) are empty, as they would be
 * outside Kubernetes: with them the container input would call a kubelet on the node's port 10250.
 */
function podEnv(root: string, dataway: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env) {
    if (e.valueFrom?.fieldRef) continue;
    env[e.name] = String(e.value ?? '');
    if (env[e.name]!.startsWith('/rootfs')) env[e.name] = path.join(root, env[e.name]!);
  }
  return {
    ...env,
    ENV_DATAWAY: dataway,
    ENV_HTTP_LISTEN: '127.0.0.1:0', // the manifest's 0.0.0.0:9529, on an ephemeral port for the test
    ENV_INPUT_STATSD_SERVICE_ADDRESS: '127.0.0.1:0',
    ENV_IO_FLUSH_INTERVAL: '100ms',
    ENV_HOSTNAME: 'node-1',
  };
}

describe('seed 000: DataKit\'s DaemonSet with telekit\'s image', () => {
  let root: string;
  let dataway: TestDataway;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-seed-'));
    layout(root);
    dataway = await TestDataway.start();
  });
  afterAll(async () => {
    await dataway.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('the manifest is the seed\'s: its inputs and its subPath mounts under /usr/local/datakit', () => {
    expect(c.env.find((e: any) => e.name === 'ENV_DEFAULT_ENABLED_INPUTS').value).toBe(SEED_INPUTS);
    expect(c.volumeMounts.filter((m: any) => m.subPath).map((m: any) => m.mountPath)).toEqual([
      '/usr/local/datakit/conf.d/container/container.conf',
      '/usr/local/datakit/conf.d/zipkin/zipkin.conf',
    ]);
    expect(c.args).toBeUndefined(); // no --conf-dir: the image's defaults decide
    // the image keeps samples only in its own conf.d (as the layout above does)
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^RUN find conf\.d -name '\*\.conf' -delete$/m);
    // ... and starts what `npm start` starts from conf.d, from the environment instead
    const imageDefaults = /^ENV ENV_DEFAULT_ENABLED_INPUTS=(\S+)$/m.exec(dockerfile)![1]!.split(',');
    expect(imageDefaults.sort()).toEqual([...(DEFAULT_ON as string[])].sort());
  });

  it('starts every input with no warning, with the ConfigMap\'s options in effect', async () => {
    const folders = confFolders(path.join(root, 'usr/local/telekit/conf.d'), path.join(root, 'usr/local/datakit'));
    expect(folders.confDirs).toEqual([path.join(root, 'usr/local/telekit/conf.d'), path.join(root, 'usr/local/datakit/conf.d')]);
    const env = podEnv(root, dataway.url);

    const checked = Agent.check({ confDir: folders.confDirs, env, registry: inputs });
    expect(checked.problems).toEqual([]);
    const conf = (name: string) => checked.instances.find((i) => i.def.name === name);
    const cm = objs.find((o) => o.kind === 'ConfigMap')!.data;
    const container = toml.parse(cm['container.conf']).inputs.container;
    expect(conf('container')!.source).toBe(path.join(root, 'usr/local/datakit/conf.d/container/container.conf'));
    expect(conf('container')!.config).toMatchObject({
      container_exclude_log: container.container_exclude_log,
      exclude_pause_container: true,
      enable_pod_metric: true,
      enable_k8s_metric: true,
      kubernetes_url: 'https://kubernetes.default:443',
      bearer_token: '/run/secrets/kubernetes.io/serviceaccount/token',
    });
    expect(conf('zipkin')!.source).toBe(path.join(root, 'usr/local/datakit/conf.d/zipkin/zipkin.conf'));
    expect(conf('zipkin')!.config).toMatchObject({ pathV1: '/api/v1/spans', pathV2: '/api/v2/spans' });
    expect(checked.settings.hostTags).toMatchObject({ cluster_name_k8s: 'k8s-istio' });

    const lines: { level: number; msg: string; kind?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const agent = await Agent.start({ confDir: folders.confDirs, dataDir: path.join(root, 'data'), env, registry: inputs, log: pino({ level: 'info' }, sink), watch: false });
    try {
      expect(agent.runningInputs().sort()).toEqual([...SEED_INPUTS.split(','), 'zipkin'].sort());
      const res = await fetch(`${agent.httpUrl}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
      expect(res.status).toBeLessThan(300);
    } finally {
      await agent.stop();
    }
    // This machine is no Kubernetes node: nothing answers on the kubelet's port 10250, which the container
    // input calls at the node's address. That connection error is the environment's, not the configuration's.
    const noKubelet = (l: { kind?: string }) => l.kind === 'kubelet_connect';
    expect(lines.filter((l) => l.level >= 40 && !noKubelet(l))).toEqual([]);
    expect(lines.some((l) => l.msg === 'unknown input: skipped' || /unknown input/.test(l.msg))).toBe(false);
  });
});
