/**
 * The seed's default host inputs, started with zero config through
 * ENV_DEFAULT_ENABLED_INPUTS, reach the dataway with sane values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { UInt } from '../../agent/model/point.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

const FAST = ['CPU', 'MEM', 'SWAP', 'DISK', 'DISKIO', 'NET', 'SYSTEM'];

describe('host inputs end to end', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent({
      env: {
        ENV_DEFAULT_ENABLED_INPUTS: 'cpu,disk,diskio,mem,swap,system,hostobject,net',
        ENV_GLOBAL_HOST_TAGS: 'cluster_name_k8s=e2e',
        ENV_INPUT_CPU_TAGS: 'tier=node',
        ...Object.fromEntries(FAST.map((n) => [`ENV_INPUT_${n}_INTERVAL`, '1s'])),
      },
    });
  });
  afterAll(async () => t?.stop());

  it('cpu: usage percentages after the priming interval, with host and input tags', async () => {
    const [p] = await t.dataway.waitForPoints('metric', 1, { name: 'cpu' });
    expect(p!.tags).toMatchObject({ cpu: 'cpu-total', host: 'test-host', cluster_name_k8s: 'e2e', tier: 'node' });
    for (const k of ['usage_user', 'usage_system', 'usage_idle', 'usage_iowait', 'usage_total']) {
      expect(p!.fields[k] as number).toBeGreaterThanOrEqual(0);
      expect(p!.fields[k] as number).toBeLessThanOrEqual(100);
    }
  });

  it('mem, swap, disk, diskio, net, system, conntrack/filefd metrics arrive', async () => {
    for (const name of ['mem', 'swap', 'disk', 'system', 'filefd', 'net']) {
      const pts = await t.dataway.waitForPoints('metric', 1, { name });
      expect(pts[0]!.tags.host).toBe('test-host');
    }
    const mem = t.dataway.points('metric', 'mem')[0]!;
    expect(mem.fields.used_percent as number).toBeGreaterThan(0);
    expect(mem.fields.used_percent as number).toBeLessThanOrEqual(100);
    // diskio rates and counters rising across two collections
    const dio = await t.dataway.waitForPoints('metric', (p) => p.some((x) => x.fields['read_bytes/sec'] !== undefined), { name: 'diskio' });
    const byName = dio.filter((p) => p.tags.name === dio[0]!.tags.name);
    expect(n(byName.at(-1)!.fields.reads)).toBeGreaterThanOrEqual(n(byName[0]!.fields.reads));
    expect(byName[0]!.fields.reads).toBeInstanceOf(UInt); // unsigned, as DataKit sends it
  });

  it('hostobject: one HOST object at start', async () => {
    const [h] = await t.dataway.waitForPoints('object', 1, { name: 'HOST' });
    expect(h!.tags).toMatchObject({ name: 'test-host', os: 'linux', host: 'test-host' });
    expect(JSON.parse(h!.fields.message as string).host.meta.host_name).toBe('test-host');
  });

  it('reports the inputs in /v1/stats without errors', async () => {
    const stats = (await (await fetch(`${t.url}/v1/stats`)).json()) as { inputs: { name: string; errors: number; points: number }[] };
    const names = stats.inputs.map((i) => i.name).sort();
    expect(names).toEqual(['cpu', 'disk', 'diskio', 'hostobject', 'mem', 'net', 'swap', 'system']);
    expect(stats.inputs.filter((i) => i.errors > 0)).toEqual([]);
  });
});
