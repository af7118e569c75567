/**
 * `disable_host_tag` through the whole agent: the core adds the global `host`
 * tag to prom points unless the instance sets `disable_host_tag = true`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestAgent, type TestAgent } from '../../test/helpers/agent.js';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import { waitFor } from '../../test/helpers/wait.js';
import { schema } from './config.js';
import { PromInput } from './input.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function target(): Promise<string> {
  const s = http.createServer((_q, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end('# TYPE app_up gauge\napp_up 1\n');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  cleanups.push(() => s.closeAllConnections());
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`;
}

describe('disable_host_tag', () => {
  it('hands the points over with omitGlobalTags: ["host"] only when set', async () => {
    const url = await target();
    for (const disable of [false, true]) {
      const ctx = fakeContext('prom');
      const input = new PromInput(validConfig(schema, { urls: [url], interval: '1s', disable_host_tag: disable }), ctx);
      await input.start();
      cleanups.push(() => input.stop());
      await waitFor(() => ctx.points.length > 0, { timeoutMs: 10_000 });
      expect(ctx.acc.withoutGlobalTag('host').length > 0).toBe(disable);
    }
  });

  it('leaves the global host tag out of the sent points, and only for that instance', async () => {
    const url = await target();
    const conf =
      `[[inputs.prom]]\nurls = ["${url}"]\ninterval = "1s"\nmeasurement_name = "with_host"\n` +
      `[[inputs.prom]]\nurls = ["${url}"]\ninterval = "1s"\nmeasurement_name = "no_host"\ndisable_host_tag = true\n`;
    const a: TestAgent = await startTestAgent({ conf: { 'prom/prom.conf': conf }, env: { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=a' } });
    cleanups.push(() => a.stop());
    const pts = await a.dataway.waitForPoints('metric', (p) => p.some((x) => x.name === 'with_host') && p.some((x) => x.name === 'no_host'), { timeoutMs: 10_000 });
    const withHost = pts.find((p) => p.name === 'with_host')!;
    const noHost = pts.find((p) => p.name === 'no_host')!;
    expect(withHost.tags.host).toBe('test-host');
    expect(withHost.tags.zone).toBe('a');
    expect(noHost.tags.host).toBeUndefined();
    expect(noHost.tags.zone).toBe('a');
    expect(noHost.tags.instance).toBe(withHost.tags.instance);
  });
});
