import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadInputs, listConfFiles, formatProblem } from '../../agent/config/load.js';
import { readSettings, parseEnabledInputs, SettingsError } from '../../agent/config/env.js';
import { fakeInput, lifecycle } from '../helpers/fake-input.js';
import { startTestAgent, tempDir, writeConf, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const registry = [fakeInput];
const load = (confDir: string | undefined, env: Record<string, string> = {}) =>
  loadInputs({ confDir, env, registry, defaultEnabled: parseEnabledInputs(env.ENV_DEFAULT_ENABLED_INPUTS) });

describe('conf.d loading', () => {
  it('reads every *.conf recursively, several instances per input, with defaults', () => {
    const dir = tempDir();
    writeConf(dir, {
      'fake/fake.conf': '[[inputs.fake]]\nvalue = 2\n[[inputs.fake]]\nlabel = "b"\n[inputs.fake.tags]\nteam = "x"\n',
      'fake/fake.conf.sample': '[[inputs.fake]]\nvalue = 99\n',
      'deep/er/more.conf': '[[inputs.fake]]\nvalue = 3\n',
    });
    const r = load(dir);
    expect(r.problems).toEqual([]);
    expect(r.instances.map((i) => (i.config as { value: number }).value).sort()).toEqual([1, 2, 3]);
    const b = r.instances.find((i) => (i.config as { label: string }).label === 'b')!;
    expect(b.config).toMatchObject({ value: 1, interval: 1000, tags: { team: 'x' } });
    expect(Object.isFrozen(b.config)).toBe(true);
  });

  it('reads a ConfigMap volume (..data symlink layout) once', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, '..2026_11_25_01'));
    fs.writeFileSync(path.join(dir, '..2026_11_25_01', 'fake.conf'), '[[inputs.fake]]\nvalue = 7\n');
    fs.symlinkSync('..2026_11_25_01', path.join(dir, '..data'));
    fs.symlinkSync('..data/fake.conf', path.join(dir, 'fake.conf'));
    expect(listConfFiles(dir)).toEqual([path.join(dir, 'fake.conf')]);
    expect(load(dir).instances).toHaveLength(1);
  });

  it('reports a bad value with file, line and key', () => {
    const dir = tempDir();
    writeConf(dir, { 'fake/fake.conf': '# comment\n[[inputs.fake]]\nlabel = "ok"\nvalue = "seven"\n' });
    const r = load(dir);
    const err = r.problems.find((p) => p.severity === 'error')!;
    expect(err).toMatchObject({ file: path.join(dir, 'fake/fake.conf'), line: 4, key: 'inputs.fake[0].value' });
    expect(formatProblem(err)).toMatch(/fake\.conf:4: error: inputs\.fake\[0\]\.value: expected a number/);
  });

  it('reports unknown options as errors and unknown inputs as warnings', () => {
    const dir = tempDir();
    writeConf(dir, { 'a.conf': '[[inputs.fake]]\nvalu = 1\n\n[[inputs.nosuch]]\nx = 1\n' });
    const r = load(dir);
    expect(r.problems).toContainEqual(expect.objectContaining({ severity: 'error', line: 2, key: 'inputs.fake[0].valu', message: 'unknown option' }));
    expect(r.problems).toContainEqual(expect.objectContaining({ severity: 'warning', line: 4, key: 'inputs.nosuch' }));
  });

  it('reports TOML syntax errors with their line', () => {
    const dir = tempDir();
    writeConf(dir, { 'a.conf': '[[inputs.fake]]\nvalue = = 1\n' });
    expect(load(dir).problems[0]).toMatchObject({ severity: 'error', line: 2 });
  });

  it('starts default-enabled inputs with ENV_INPUT_ overrides typed through the schema', () => {
    const r = load(undefined, {
      ENV_DEFAULT_ENABLED_INPUTS: 'cpu,fake,mem',
      ENV_INPUT_FAKE_VALUE: '42',
      ENV_INPUT_FAKE_NAMES: 'a,b',
      ENV_INPUT_FAKE_INTERVAL: '1m',
      ENV_INPUT_FAKE_VERBOSE: 'yes',
      ENV_INPUT_FAKE_TAGS: 'k=v,k2=v2',
    });
    expect(r.instances).toHaveLength(1);
    expect(r.instances[0]!.config).toMatchObject({ value: 42, names: ['a', 'b'], interval: 60_000, verbose: true, tags: { k: 'v', k2: 'v2' } });
    expect(r.problems.filter((p) => p.severity === 'warning').map((p) => p.key)).toEqual(['cpu', 'mem']);
  });

  it('matches ENV_INPUT_ option names case-insensitively (camelCase options such as zipkin pathV2)', async () => {
    const { inputs } = await import('../../inputs/index.js');
    const r = loadInputs({ env: { ENV_INPUT_ZIPKIN_PATHV2: '/custom/v2' }, registry: inputs, defaultEnabled: ['zipkin'] });
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.instances[0]!.config).toMatchObject({ pathV2: '/custom/v2' });
  });

  it('rejects a bad ENV_INPUT_ value naming the variable', () => {
    const r = load(undefined, { ENV_DEFAULT_ENABLED_INPUTS: 'fake', ENV_INPUT_FAKE_VALUE: 'many' });
    expect(r.problems).toContainEqual(expect.objectContaining({ severity: 'error', key: 'ENV_INPUT_FAKE_VALUE' }));
  });

  it('does not add a default instance when conf.d configures the input; `-` and `-name` disable', () => {
    const dir = tempDir();
    writeConf(dir, { 'f.conf': '[[inputs.fake]]\nvalue = 5\n' });
    expect(load(dir, { ENV_DEFAULT_ENABLED_INPUTS: 'fake' }).instances).toHaveLength(1);
    expect(parseEnabledInputs('cpu, mem fake')).toEqual(['cpu', 'mem', 'fake']);
    expect(parseEnabledInputs('cpu,-')).toEqual([]);
    expect(parseEnabledInputs('cpu,mem,-mem')).toEqual(['cpu']);
  });

  it('takes extra inputs from ENV_DATAKIT_INPUTS', () => {
    const r = load(undefined, { ENV_DATAKIT_INPUTS: '[[inputs.fake]]\nvalue = 9\n' });
    expect(r.instances[0]).toMatchObject({ source: 'ENV_DATAKIT_INPUTS', config: { value: 9 } });
  });
});

describe('settings from the environment', () => {
  it('resolves host tag placeholders and the election tags', () => {
    const s = readSettings({
      ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,host_ip=__datakit_ip,cluster_name_k8s=k8s-istio',
      ENV_K8S_NODE_NAME: 'node-1',
      ENV_K8S_NODE_IP: '10.1.2.3',
    });
    expect(s.hostTags).toEqual({ host: 'node-1', host_ip: '10.1.2.3', cluster_name_k8s: 'k8s-istio' });
    expect(s.electionTags).toEqual(s.hostTags);
    const e = readSettings({ ENV_GLOBAL_TAGS: 'a=$datakit_hostname', ENV_HOSTNAME: 'h', ENV_ENABLE_ELECTION: '1', ENV_GLOBAL_ELECTION_TAGS: 'cluster=c1', ENV_CLUSTER_NAME_K8S: 'prod' });
    expect(e.hostTags).toEqual({ a: 'h', host: 'h', cluster_name_k8s: 'prod' });
    expect(e.electionTags).toEqual({ cluster: 'c1', cluster_name_k8s: 'prod' });
    expect(e.enableElection).toBe(true);
  });

  it('parses the listen address and refuses bad values with the variable name', () => {
    expect(readSettings({}).httpListen).toEqual({ host: '0.0.0.0', port: 9529 });
    expect(readSettings({ ENV_HTTP_LISTEN: ':8080' }).httpListen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(readSettings({ ENV_HTTP_LISTEN: '[::1]:80' }).httpListen).toEqual({ host: '::1', port: 80 });
    expect(() => readSettings({ ENV_HTTP_LISTEN: 'nope' })).toThrowError(SettingsError);
    expect(() => readSettings({ ENV_DATAWAY_CONTENT_ENCODING: 'v3' })).toThrowError(/ENV_DATAWAY_CONTENT_ENCODING/);
    expect(() => readSettings({ ENV_DATAWAY: 'ftp://x?token=secret' })).toThrowError(/token=\*\*\*/);
    expect(readSettings({ ENV_DATAWAY: 'https://a?token=1, https://b?token=2' }).dataways).toHaveLength(2);
    // gzip levels are zlib's 0..9: a level zlib refuses would fail every send, not the start
    expect(readSettings({}).gzipLevel).toBe(3);
    expect(readSettings({}).busyGzipLevel).toBe(2);
    expect(readSettings({ ENV_DATAWAY_GZIP_LEVEL: '9', ENV_DATAWAY_GZIP_LEVEL_BUSY: '0' })).toMatchObject({ gzipLevel: 9, busyGzipLevel: 0 });
    expect(() => readSettings({ ENV_DATAWAY_GZIP_LEVEL: '10' })).toThrowError(/ENV_DATAWAY_GZIP_LEVEL: expected an integer from 0 to 9/);
    expect(() => readSettings({ ENV_DATAWAY_GZIP_LEVEL_BUSY: '-1' })).toThrowError(/ENV_DATAWAY_GZIP_LEVEL_BUSY/);
  });
});

describe('hot reload', () => {
  let t: TestAgent | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('restarts changed instances, keeps unchanged ones, and keeps running on a bad change', async () => {
    lifecycle.starts.length = 0;
    lifecycle.stops.length = 0;
    t = await startTestAgent({
      conf: { 'a/a.conf': '[[inputs.fake]]\nlabel = "a"\n', 'b/b.conf': '[[inputs.fake]]\nlabel = "b"\n' },
      extra: { registry },
      watch: true,
    });
    expect(lifecycle.starts.sort()).toEqual(['a:1', 'b:1']);
    writeConf(t.confDir, { 'b/b.conf': '[[inputs.fake]]\nlabel = "b"\nvalue = 2\n' });
    await waitFor(() => lifecycle.starts.includes('b:2'), { what: 'reload of b' });
    expect(lifecycle.stops).toEqual(['b:1']);
    writeConf(t.confDir, { 'b/b.conf': '[[inputs.fake]]\nlabel = "b"\nvalue = "bad"\n' });
    await waitFor(async () => /telekit_config_reloads_total\{result="rejected"\} [1-9]/.test(await (await fetch(`${t!.url}/metrics`)).text()), { what: 'rejected reload' });
    expect(t.agent.runningInputs()).toHaveLength(2);
    expect(lifecycle.stops).toEqual(['b:1']);
    await t.dataway.waitForPoints('metric', (p) => p.some((x) => x.fields.value === 2));
  });
});

describe('hot reload of a ConfigMap volume', () => {
  let t: TestAgent | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('follows the ..data symlink swap Kubernetes does on a ConfigMap update', async () => {
    lifecycle.starts.length = 0;
    t = await startTestAgent({ extra: { registry }, watch: true });
    const dir = t.confDir;
    const version = (n: number, value: number) => {
      const d = path.join(dir, `..2026_11_25_0${n}`);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'fake.conf'), `[[inputs.fake]]\nlabel = "cm"\nvalue = ${value}\n`);
      return path.basename(d);
    };
    // first version, then the atomic swap: new dir, new ..data_tmp symlink renamed over ..data
    fs.symlinkSync(version(1, 1), path.join(dir, '..data'));
    fs.symlinkSync('..data/fake.conf', path.join(dir, 'fake.conf'));
    await waitFor(() => lifecycle.starts.includes('cm:1'), { what: 'first ConfigMap version' });
    fs.symlinkSync(version(2, 2), path.join(dir, '..data_tmp'));
    fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await waitFor(() => lifecycle.starts.includes('cm:2'), { what: 'swapped ConfigMap version' });
    expect(t.agent.runningInputs()).toEqual(['fake']);
  });
});

