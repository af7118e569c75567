/**
 * The prom input through the whole agent: a prom-client exposition, Debian's
 * prometheus-node-exporter (a real target), and pods carrying the seed's exact
 * `datakit/prom.instances` annotation on the fixture API server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { freePort, waitFor } from '../helpers/wait.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(h: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>, port = 0): Promise<number> {
  const s = http.createServer((req, res) => void Promise.resolve(h(req, res)).catch(() => res.destroy()));
  await new Promise<void>((r, j) => s.once('error', j).listen(port, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  cleanups.push(() => s.closeAllConnections());
  return (s.address() as AddressInfo).port;
}

async function agent(conf: Record<string, string>, env: Record<string, string> = {}): Promise<TestAgent> {
  const a = await startTestAgent({ conf, env });
  cleanups.push(() => a.stop());
  return a;
}

describe('prom input end to end', () => {
  it('scrapes a prom-client exposition from conf.d', async () => {
    const reg = new client.Registry();
    const c = new client.Counter({ name: 'shop_orders_total', help: 'h', labelNames: ['state'], registers: [reg] });
    c.inc({ state: 'paid' }, 4);
    new client.Histogram({ name: 'shop_checkout_seconds', help: 'h', buckets: [1], registers: [reg] }).observe(0.5);
    const port = await serve(async (_q, res) => {
      res.setHeader('content-type', reg.contentType);
      res.end(await reg.metrics());
    });
    const a = await agent({ 'prom/shop.conf': `[[inputs.prom]]\nurls = ["http://127.0.0.1:${port}/metrics"]\ninterval = "1s"\n[inputs.prom.tags]\nteam = "shop"\n` });
    await a.dataway.waitForPoints('metric', (pts) => pts.some((p) => p.name === 'shop' && p.tags.le === '+Inf'), { timeoutMs: 10_000 });
    const pts = a.dataway.points('metric', 'shop');
    const paid = pts.find((p) => p.tags.state === 'paid')!;
    expect(paid.fields.orders_total).toBe(4);
    expect(paid.tags).toMatchObject({ instance: `127.0.0.1:${port}`, team: 'shop', host: 'test-host' });
    expect(pts.find((p) => p.tags.le === '1')!.fields.checkout_seconds_bucket).toBe(1);
    expect(pts.find((p) => 'checkout_seconds_count' in p.fields)!.fields).toMatchObject({ checkout_seconds_count: 1, checkout_seconds_sum: 0.5 });
  });

  const haveExporter = fs.existsSync(NODE_EXPORTER);
  const exporterTitle = haveExporter ? "scrapes Debian's prometheus-node-exporter" : `SKIPPED: ${NODE_EXPORTER} is absent (.ci/setup.d/prom.sh installs it in CI)`;
  it.skipIf(!haveExporter)(exporterTitle, async () => {
    // .ci/setup.d/prom.sh runs one on 127.0.0.1:19100; otherwise start our own
    let url: string | undefined = process.env.PROM_NODE_EXPORTER_URL ?? 'http://127.0.0.1:19100/metrics';
    if (!(await fetch(url).then((r) => r.ok, () => false))) url = undefined;
    if (!url) {
      const port = await freePort();
      const child: ChildProcess = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.cpu', '--collector.meminfo', '--collector.loadavg', '--collector.uname'], { stdio: 'ignore' });
      cleanups.push(() => child.kill());
      url = `http://127.0.0.1:${port}/metrics`;
      const u = url;
      await waitFor(async () => (await fetch(u)).ok, { what: 'node exporter up', timeoutMs: 10_000 });
    }
    const a = await agent({ 'prom/node.conf': `[[inputs.prom]]\nurls = ["${url}"]\ninterval = "1s"\n` });
    await a.dataway.waitForPoints('metric', (pts) => pts.some((p) => p.name === 'node' && p.tags.mode === 'idle'), { timeoutMs: 15_000 });
    const node = a.dataway.points('metric', 'node');
    const idle = node.find((p) => p.tags.mode === 'idle')!;
    expect(typeof idle.fields.cpu_seconds_total).toBe('number');
    expect(idle.tags.cpu).toMatch(/^\d+$/);
    // node_uname_info labels become tags of the other points
    expect(node.find((p) => 'memory_MemTotal_bytes' in p.fields)?.tags.sysname).toBe('Linux');
    expect(a.dataway.points('metric', 'go').length).toBeGreaterThan(0);
  });

  it("scrapes pods with the seed's annotation and follows edits and deletion", async () => {
    const seed = fs.readFileSync(path.join(import.meta.dirname, '../../inputs/prom/testdata/seed-annotation.toml'), 'utf8');
    let hits = 0;
    await serve((req, res) => {
      if (req.url !== '/stats/prometheus') return void res.writeHead(404).end();
      hits++;
      res.end(
        [
          '# TYPE istio_requests_total counter',
          'istio_requests_total{destination_app="details",response_code="200",reporter="destination"} 42',
          '# TYPE go_goroutines gauge',
          'go_goroutines 17',
          '# TYPE not_in_filter gauge',
          'not_in_filter 1',
          '# TYPE istio_request_bytes histogram',
          'istio_request_bytes_bucket{le="+Inf"} 3',
          'istio_request_bytes_sum 30',
          'istio_request_bytes_count 3',
        ].join('\n') + '\n',
      );
    }, 15020); // the seed's annotation names port 15020
    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    const pod = (annotation: string) =>
      makePod({ name: 'details-v1-5f4d8c7b9-abcde', namespace: 'prod', node: 'node-a', ip: '127.0.0.1', owner: { kind: 'ReplicaSet', name: 'details-v1-5f4d8c7b9' }, labels: { 'pod-template-hash': '5f4d8c7b9' }, annotations: { 'datakit/prom.instances': annotation } });
    api.upsert('pods', pod(seed));
    const a = await agent({ 'prom/discovery.conf': '[[inputs.prom]]\ndiscover_pod_annotations = true\n' }, { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a' });
    await a.dataway.waitForPoints('metric', 2, { name: 'istio_prom', timeoutMs: 10_000 });
    const p = a.dataway.points('metric', 'istio_prom').find((x) => x.tags.response_code === '200')!;
    expect(p.fields).toEqual({ istio_requests_total: 42 });
    expect(a.dataway.points('metric', 'istio_prom').find((x) => 'go_goroutines' in x.fields)!.fields).toEqual({ go_goroutines: 17 });
    expect(p.tags).toMatchObject({ namespace: 'prod', pod_name: 'details-v1-5f4d8c7b9-abcde', deployment: 'details-v1', instance: '127.0.0.1:15020', response_code: '200' });
    expect(p.tags.destination_app).toBeUndefined(); // tags_ignore
    expect(a.dataway.points('metric').some((x) => 'not_in_filter' in x.fields)).toBe(false);

    // edit: a new measurement name and a short interval
    api.upsert('pods', pod(seed.replace('measurement_name = "istio_prom"', 'measurement_name = "istio_edited"').replace('interval = "60s"', 'interval = "200ms"')));
    await a.dataway.waitForPoints('metric', 3, { name: 'istio_edited', timeoutMs: 10_000 });

    // delete: scraping stops
    api.delete('pods', 'prod', 'details-v1-5f4d8c7b9-abcde');
    await waitFor(async () => {
      const n = hits;
      await new Promise((r) => setTimeout(r, 600)); // three intervals without a scrape
      return hits <= n;
    }, { what: 'scraping stops after the pod is deleted', timeoutMs: 10_000 });
  });
});
