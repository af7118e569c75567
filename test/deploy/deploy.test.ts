/**
 * Renders every kustomization with `kubectl kustomize` (no cluster needed),
 * validates each object offline against the Kubernetes schemas
 * (kubernetes-models), and checks the manifest against the agent itself:
 * subPath keys exist, conf.d mounts match the layout the agent reads and name
 * registered inputs, every env var is one the agent reads, RBAC grants no more
 * than the agent needs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { agentEnvNames } from '../../cli/env-all.js';
import { inputs } from '../../inputs/index.js';
import { validate } from '../../agent/config/schema.js';
import { readSettings } from '../../agent/config/env.js';
import toml from 'toml';

const ROOT = path.resolve(import.meta.dirname, '../..');
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

function kustomizations(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'kustomization.yaml') out.push(d);
    }
  };
  walk(path.join(ROOT, 'deploy'));
  return out.sort();
}

function render(dir: string): Obj[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return loadAll(text).filter((x): x is Obj => typeof x === 'object' && x !== null);
}

async function model(o: Obj): Promise<{ validate(): void } | undefined> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const modPath = group === '' ? `kubernetes-models/${version}/${o.kind}` : `kubernetes-models/${group}/${version}/${o.kind}`;
  const mod = (await import(modPath)) as Record<string, new (x: unknown) => { validate(): void }>;
  const Cls = mod[o.kind];
  return Cls ? new Cls(o) : undefined;
}

const CONF_DIR = '/usr/local/telekit/conf.d';
/** What the agent may do in the cluster: read what it watches, write only its Lease. */
const ALLOWED: Record<string, Record<string, string[]>> = {
  '': { pods: ['get', 'list', 'watch'], nodes: ['get', 'list', 'watch'], 'nodes/stats': ['get'], 'nodes/proxy': ['get'] },
  apps: { deployments: ['list', 'watch'], daemonsets: ['list', 'watch'], statefulsets: ['list', 'watch'], replicasets: ['list', 'watch'] },
  batch: { jobs: ['list', 'watch'], cronjobs: ['list', 'watch'] },
};
const ALLOWED_NAMESPACED: Record<string, Record<string, string[]>> = { 'coordination.k8s.io': { leases: ['get', 'create', 'update'] } };

export function rbacViolations(objs: Obj[]): string[] {
  const bad: string[] = [];
  for (const o of objs.filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
    const allowed = o.kind === 'ClusterRole' ? ALLOWED : ALLOWED_NAMESPACED;
    for (const rule of (o.rules ?? []) as { apiGroups?: string[]; resources?: string[]; verbs?: string[]; nonResourceURLs?: string[] }[]) {
      if (rule.nonResourceURLs) bad.push(`${o.kind} ${o.metadata.name}: nonResourceURLs`);
      for (const g of rule.apiGroups ?? [])
        for (const r of rule.resources ?? [])
          for (const v of rule.verbs ?? []) if (!allowed[g]?.[r]?.includes(v)) bad.push(`${o.kind} ${o.metadata.name}: ${v} ${g || 'core'}/${r}`);
    }
  }
  return bad;
}

const dirs = kustomizations();

describe('deploy/ kustomizations', () => {
  it('exist: a base and an istio overlay', () => {
    expect(dirs.map((d) => path.relative(ROOT, d))).toEqual(expect.arrayContaining(['deploy/base', 'deploy/overlays/istio']));
  });

  describe.each(dirs.map((d) => [path.relative(ROOT, d), d]))('%s', (_name, dir) => {
    const objs = render(dir);

    it('renders objects that validate against the Kubernetes schemas', async () => {
      expect(objs.length).toBeGreaterThan(5);
      for (const o of objs) {
        const m = await model(o);
        expect(m, `${o.apiVersion} ${o.kind}`).toBeDefined();
        expect(() => m!.validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    });

    const ds = objs.find((o) => o.kind === 'DaemonSet')!;
    const pod = ds.spec.template.spec;
    const c = pod.containers[0];
    /** The DaemonSet and any Deployment (the rum overlay's dedicated agents): each is checked against the agent. */
    const workloads = objs.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment');

    it.each(workloads.map((w) => [`${w.kind}/${w.metadata.name}`, w]))('%s mounts only ConfigMap keys that exist, at conf.d/<input>/<input>.conf of registered inputs, with valid TOML', (_n, w) => {
      const pod = w.spec.template.spec;
      const c = pod.containers[0];
      const vols = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
      const confMounts = c.volumeMounts.filter((m: any) => vols.get(m.name)?.configMap);
      expect(confMounts.length).toBeGreaterThan(0);
      for (const m of confMounts) {
        const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vols.get(m.name).configMap.name);
        expect(cm, `ConfigMap for volume ${m.name}`).toBeDefined();
        expect(Object.keys(cm!.data ?? {}), `key ${m.subPath}`).toContain(m.subPath);
        const rel = path.posix.relative(CONF_DIR, m.mountPath);
        const parts = rel.split('/');
        expect(parts, `${m.mountPath} must be ${CONF_DIR}/<input>/<input>.conf`).toHaveLength(2);
        expect(parts[1]).toBe(`${parts[0]}.conf`);
        const def = inputs.find((d) => d.name === parts[0]);
        expect(def, `input ${parts[0]} is registered`).toBeDefined();
        const doc = toml.parse(cm!.data[m.subPath]) as { inputs: Record<string, unknown> };
        const tables = doc.inputs[parts[0]!];
        for (const t of Array.isArray(tables) ? tables : [tables]) {
          const v = validate(def!.schema, t);
          expect(v.ok ? [] : v.issues, `${m.subPath} validates`).toEqual([]);
        }
      }
    });

    it.each(workloads.map((w) => [`${w.kind}/${w.metadata.name}`, w]))('%s passes the agent the conf.d it mounts and sets only env vars the agent reads', (_n, w) => {
      const c = w.spec.template.spec.containers[0];
      expect(c.args).toEqual(expect.arrayContaining(['--conf-dir', CONF_DIR]));
      const known = new Set(agentEnvNames());
      const inputOpt = (n: string) => {
        const m = /^ENV_INPUT_([A-Z0-9]+)_(.+)$/.exec(n);
        const def = m && inputs.find((d) => d.name.toUpperCase() === m[1]);
        return !!def && !!def.schema.shape?.[m[2]!.toLowerCase()];
      };
      // NODE_OPTIONS is node's own, and only V8's heap budgets may be set there (README "Resources")
      const nodeOpt = (e: { name: string; value?: string }) => e.name === 'NODE_OPTIONS' && /^(--max-(semi|old)-space-size=\d+ ?)+$/.test(e.value ?? '');
      for (const e of c.env) expect(known.has(e.name) || inputOpt(e.name) || nodeOpt(e), `env ${e.name} is read by the agent`).toBe(true);
      const enabled = c.env.find((e: any) => e.name === 'ENV_DEFAULT_ENABLED_INPUTS')?.value.split(',') ?? [];
      for (const n of enabled) expect(inputs.map((d) => d.name), `default input ${n}`).toContain(n.replace(/^-/, '') || 'rum'); // `-` = none, `-name` removes one
      expect(c.env.find((e: any) => e.name === 'ENV_DATAWAY').valueFrom.secretKeyRef.name).toBe(objs.find((o) => o.kind === 'Secret')!.metadata.name);
    });

    it('runs host_processes as the DataKit seed does, from the host /proc and only the host passwd: no hostPID, no added capability', () => {
      const env = (n: string) => c.env.find((e: any) => e.name === n)?.value;
      if (!env('ENV_DEFAULT_ENABLED_INPUTS')?.split(',').includes('host_processes')) return; // an overlay that turns it off
      const mountOf = (p: string) => c.volumeMounts.find((m: any) => m.mountPath === p);
      const proc = mountOf(env('HOST_PROC'));
      expect(pod.volumes.find((v: any) => v.name === proc.name).hostPath.path).toBe('/proc');
      const passwd = mountOf(`${env('HOST_ETC')}/passwd`);
      expect(passwd.readOnly).toBe(true);
      expect(pod.volumes.find((v: any) => v.name === passwd.name).hostPath).toEqual({ path: '/etc/passwd', type: 'File' });
      // nothing else of the host's /etc (shadow, keys) is mounted
      expect(c.volumeMounts.filter((m: any) => m.mountPath.startsWith(env('HOST_ETC'))).map((m: any) => m.mountPath)).toEqual([`${env('HOST_ETC')}/passwd`]);
      expect(pod.hostPID).toBeUndefined();
      expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    });

    it('gives SIGTERM room: the grace period outlasts ENV_SHUTDOWN_TIMEOUT plus the 2 s spill-and-exit margin', () => {
      const timeout = c.env.find((e: any) => e.name === 'ENV_SHUTDOWN_TIMEOUT')?.value ?? '10s';
      const seconds = readSettings({ ENV_SHUTDOWN_TIMEOUT: timeout }).shutdownTimeoutMs / 1000;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(seconds + 2);
    });

    it('grants no more than get/list/watch of what the agent reads, plus its Lease', () => {
      expect(rbacViolations(objs)).toEqual([]);
    });

    it('probes /v1/ping, tolerates every taint, mounts host logs read-only, keeps data on the host', () => {
      expect(c.livenessProbe.httpGet.path).toBe('/v1/ping');
      expect(c.readinessProbe.httpGet.path).toBe('/v1/ping');
      expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
      for (const p of ['/var/log/pods', '/var/log/containers', '/var/lib/docker/containers', '/run/containerd/io.containerd.runtime.v2.task/k8s.io', '/var/lib/kubelet/pods']) {
        expect(c.volumeMounts.find((m: any) => m.mountPath === p)?.readOnly, p).toBe(true);
      }
      const data = c.volumeMounts.find((m: any) => c.args.includes(m.mountPath) && m.mountPath.endsWith('/data'));
      expect(pod.volumes.find((v: any) => v.name === data.name).hostPath).toBeDefined();
      expect(ds.spec.updateStrategy.type).toBe('RollingUpdate');
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'telekit')!;
      expect(svc.spec.internalTrafficPolicy).toBe('Local');
    });
  });

  it('the RBAC check catches a rule that grants more', () => {
    const role: Obj = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods'], verbs: ['delete'] }] };
    expect(rbacViolations([role])).toEqual(['ClusterRole x: get core/secrets', 'ClusterRole x: delete core/pods']);
  });

  it('the rum overlay adds agents with only the rum input behind a Service and an Ingress that exposes only the browser routes', () => {
    const objs = render(path.join(ROOT, 'deploy/overlays/rum'));
    const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'telekit-rum')!;
    const c = dep.spec.template.spec.containers[0];
    expect(c.env).toContainEqual({ name: 'ENV_DEFAULT_ENABLED_INPUTS', value: '-' });
    expect(c.volumeMounts.map((m: any) => m.mountPath).filter((p: string) => p.includes('/conf.d/'))).toEqual([`${CONF_DIR}/rum/rum.conf`]);
    expect(objs.find((o) => o.kind === 'DaemonSet'), 'the node agents stay').toBeDefined();
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'telekit-rum')!;
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    const ing = objs.find((o) => o.kind === 'Ingress')!;
    const paths = ing.spec.rules.flatMap((r: any) => r.http.paths);
    expect(paths.map((p: any) => p.path).sort()).toEqual(['/v1/write/logging', '/v1/write/rum']);
    for (const p of paths) expect(p.backend.service).toEqual({ name: 'telekit-rum', port: { name: 'http' } });
    const conf = toml.parse(objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('telekit-rum-conf'))!.data['rum.conf']) as { inputs: { rum: { rum_origin_ip_header: string }[] } };
    expect(conf.inputs.rum[0]!.rum_origin_ip_header).toBe('X-Forwarded-For');
  });

  it('the istio overlay maps zipkin.istio-system:9411 onto the agent', () => {
    const objs = render(path.join(ROOT, 'deploy/overlays/istio'));
    const z = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'zipkin')!;
    expect(z.metadata.namespace).toBe('istio-system');
    expect(z.spec.externalName).toBe('telekit.telekit.svc.cluster.local');
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'telekit')!;
    expect(svc.spec.ports).toContainEqual(expect.objectContaining({ port: 9411, targetPort: 9529 }));
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  it('builds with the README install command and names an entrypoint that exists in the build output', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm ci');
    const build = text.split(/^FROM /m)[1]!;
    expect(build).toMatch(/^RUN npm ci$/m);
    const ep = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)![1]!) as string[];
    const script = ep.find((x) => x.endsWith('.js'))!;
    const local = path.join(ROOT, path.posix.relative('/usr/local/telekit', script));
    expect(fs.existsSync(local), local).toBe(true);
    const imported = /from '(\.\.\/dist\/[^']+)'/.exec(fs.readFileSync(local, 'utf8'))![1]!;
    expect(fs.existsSync(path.resolve(path.dirname(local), imported)), `${imported} after npm run build`).toBe(true);
    expect(text).toMatch(/COPY --from=build \/src\/dist \.\/dist/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/HEALTHCHECK .*\/v1\/ping/);
    expect(text).toMatch(/^VOLUME \["\/usr\/local\/telekit\/data"\]$/m);
  });
});
