import { afterEach, describe, expect, it } from 'vitest';
import type { InputDefinition } from '../../agent/input/contract.js';
import { object, tags } from '../../agent/config/schema.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import { nowNs } from '../../agent/model/point.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

/** Emits node-level and cluster-level (electionTags) points, some with global tags omitted. */
const mixed: InputDefinition = {
  name: 'mixed',
  description: 'test',
  schema: object({ tags: tags() }),
  create: (_c, ctx) => ({
    async start() {
      ctx.acc.add({ category: 'metric', name: 'node_level', tags: {}, fields: { v: 1 } });
      ctx.acc.add({ category: 'metric', name: 'cluster_level', tags: {}, fields: { v: 1 } }, { electionTags: true });
      ctx.acc.add({ category: 'metric', name: 'no_host', tags: {}, fields: { v: 1 } }, { omitGlobalTags: ['host'] });
      ctx.acc.add({ category: 'metric', name: 'no_host_own', tags: { host: 'target' }, fields: { v: 1 } }, { omitGlobalTags: ['host'] });
      ctx.acc.add({ category: 'metric', name: 'no_cluster', tags: {}, fields: { v: 1 } }, { electionTags: true, omitGlobalTags: ['cluster', 'team'] });
      // a frozen tags object shared by points (a log stream's) is decorated into a copy, per option set
      const shared = Object.freeze({ own: 'x' });
      ctx.acc.add([{ category: 'metric', name: 'frozen_1', tags: shared, fields: { v: 1 } }]);
      ctx.acc.add([{ category: 'metric', name: 'frozen_2', tags: shared, fields: { v: 1 } }], { omitGlobalTags: ['zone'] });
      if (Object.keys(shared).length !== 1) throw new Error('the shared frozen tags changed');
      // lines encoded by the input itself (as worker threads do), with the tags the core would add
      const b = new LineBuf(64);
      b.point({ category: 'metric', name: 'lines', tags: { own: 'y', ...ctx.acc.tagsToAdd!() }, fields: { v: 1 } }, nowNs());
      ctx.acc.addLines!('metric', b.data, b.ends);
    },
    async stop() {},
  }),
};

let t: TestAgent | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('global tags', () => {
  it('adds input tags, then host tags, or election tags for cluster-level points', async () => {
    t = await startTestAgent({
      conf: { 'm.conf': '[[inputs.mixed]]\n[inputs.mixed.tags]\nteam = "obs"\n' },
      env: { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=a', ENV_ENABLE_ELECTION: 'on', ENV_GLOBAL_ELECTION_TAGS: 'cluster=prod' },
      extra: { registry: [mixed] },
    });
    const pts = await t.dataway.waitForPoints('metric', 8);
    const tagsOf = (name: string) => pts.find((p) => p.name === name)!.tags;
    expect(tagsOf('node_level')).toEqual({ team: 'obs', host: 'test-host', zone: 'a' });
    expect(tagsOf('cluster_level')).toEqual({ team: 'obs', cluster: 'prod' });
    // omitGlobalTags leaves out only the named global tags; input tags and the point's own tags stay
    expect(tagsOf('no_host')).toEqual({ team: 'obs', zone: 'a' });
    expect(tagsOf('no_host_own')).toEqual({ team: 'obs', host: 'target', zone: 'a' });
    expect(tagsOf('no_cluster')).toEqual({ team: 'obs' });
    expect(tagsOf('frozen_1')).toEqual({ own: 'x', team: 'obs', host: 'test-host', zone: 'a' });
    expect(tagsOf('frozen_2')).toEqual({ own: 'x', team: 'obs', host: 'test-host' });
    expect(tagsOf('lines')).toEqual({ own: 'y', team: 'obs', host: 'test-host', zone: 'a' });
  });
});
