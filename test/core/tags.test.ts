import { afterEach, describe, expect, it } from 'vitest';
import type { InputDefinition } from '../../agent/input.js';
import { object, tags } from '../../agent/config/schema.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

/** Emits one node-level point and one cluster-level point (electionTags). */
const mixed: InputDefinition = {
  name: 'mixed',
  description: 'test',
  schema: object({ tags: tags() }),
  create: (_c, ctx) => ({
    async start() {
      ctx.acc.add({ category: 'metric', name: 'node_level', tags: {}, fields: { v: 1 } });
      ctx.acc.add({ category: 'metric', name: 'cluster_level', tags: {}, fields: { v: 1 } }, { electionTags: true });
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
    const pts = await t.dataway.waitForPoints('metric', 2);
    expect(pts.find((p) => p.name === 'node_level')!.tags).toEqual({ team: 'obs', host: 'test-host', zone: 'a' });
    expect(pts.find((p) => p.name === 'cluster_level')!.tags).toEqual({ team: 'obs', cluster: 'prod' });
  });
});
