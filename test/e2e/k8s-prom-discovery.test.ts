/**
 * The whole chain a DataKit user relies on: a pod of this node annotated with
 * `datakit/prom.instances` (the seed's form, `$IP` substituted) is discovered
 * through the fixture API server and scraped; changing the annotation or
 * deleting the pod stops the old scrape. Real client-node, real agent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { waitFor } from '../helpers/wait.js';

let api: K8sApiFixture;
let agent: TestAgent | undefined;
let exporter: http.Server;
let port: number;
const scrapes: string[] = [];

beforeEach(async () => {
  api = await K8sApiFixture.start();
  scrapes.length = 0;
  exporter = http.createServer((req, res) => {
    scrapes.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# TYPE app_requests_total counter\napp_requests_total{path="${req.url}"} 7\n`);
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  port = (exporter.address() as AddressInfo).port;
});

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  exporter.closeAllConnections();
  await new Promise((r) => exporter.close(r));
  await api.close();
});

const annotation = (path: string) => `[[inputs.prom]]\nurl = "http://$IP:${port}${path}"\nsource = "app"\ninterval = "200ms"\n[inputs.prom.tags]\npod = "$PODNAME"\nns = "$NAMESPACE"\n`;

describe('prom annotation discovery through the agent', () => {
  it('scrapes annotated pods of this node and follows annotation changes and deletes', async () => {
    api.upsert('pods', makePod({ name: 'app-1', namespace: 'shop', node: 'node-a', ip: '127.0.0.1', annotations: { 'datakit/prom.instances': annotation('/metrics') } }));
    api.upsert('pods', makePod({ name: 'app-elsewhere', node: 'node-b', ip: '127.0.0.1', annotations: { 'datakit/prom.instances': annotation('/other-node') } }));
    agent = await startTestAgent({
      conf: { 'prom/prom.conf': '[[inputs.prom]]\ndiscover_pod_annotations = true\n' },
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a' },
    });
    const pts = await agent.dataway.waitForPoints('metric', 1, { name: 'app', timeoutMs: 10_000 });
    expect(pts[0]).toMatchObject({ tags: expect.objectContaining({ pod: 'app-1', ns: 'shop', path: '/metrics' }), fields: { requests_total: 7 } });

    api.upsert('pods', makePod({ name: 'app-1', namespace: 'shop', node: 'node-a', ip: '127.0.0.1', annotations: { 'datakit/prom.instances': annotation('/v2') } }));
    await waitFor(() => scrapes.includes('/v2'), { what: 'scrape of the new path' });
    const afterEdit = scrapes.length;
    await waitFor(() => scrapes.length >= afterEdit + 3, { what: 'a few more scrapes' });
    expect(scrapes.slice(afterEdit)).not.toContain('/metrics');

    api.delete('pods', 'shop', 'app-1');
    const lastScrape = await waitFor(async () => {
      const n = scrapes.length;
      // no new scrape for more than two intervals after the delete reached the agent
      await new Promise((r) => setTimeout(r, 500));
      return scrapes.length === n ? n : 0;
    }, { what: 'scraping to stop' });
    expect(lastScrape).toBeGreaterThan(0);
    expect(scrapes).not.toContain('/other-node');
  });

  it('scrapes annotated pods with only the seed\'s [inputs.container] configured, as DataKit does', async () => {
    api.upsert('pods', makePod({ name: 'reviews-v1', namespace: 'prod', node: 'node-a', ip: '127.0.0.1', annotations: { 'datakit/prom.instances': annotation('/stats/prometheus') } }));
    const dir = (await import('node:fs')).mkdtempSync('/tmp/telekit-pods-');
    agent = await startTestAgent({
      conf: {
        'container/container.conf': `[inputs.container]\nenable_container_metric = false\nenable_k8s_metric = false\npod_logs_dir = "${dir}"\ndocker_logs_dir = "${dir}/docker"\n`,
      },
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-a' },
    });
    const pts = await agent.dataway.waitForPoints('metric', 1, { name: 'app', timeoutMs: 10_000 });
    expect(pts[0]).toMatchObject({ tags: expect.objectContaining({ pod: 'reviews-v1', ns: 'prod', path: '/stats/prometheus' }), fields: { requests_total: 7 } });
  });
});
