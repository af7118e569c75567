import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { annotationInstances, prometheusInstances, shouldScrape } from './discovery.js';
import { makePod } from './testutil.js';

const seed = fs.readFileSync(path.join(import.meta.dirname, 'testdata', 'seed-annotation.toml'), 'utf8');

describe('datakit/prom.instances', () => {
  it('parses the seed annotation with pod variables resolved', () => {
    const pod = makePod({ name: 'details-v1-5f4d8c7b9-abcde', namespace: 'prod', ip: '10.1.2.3', annotations: { 'datakit/prom.instances': seed } });
    const { instances, errors } = annotationInstances(pod);
    expect(errors).toEqual([]);
    expect(instances).toHaveLength(1);
    const i = instances[0]!;
    expect(i.config.url).toBe('http://10.1.2.3:15020/stats/prometheus');
    expect(i.config.interval).toBe(60_000);
    expect(i.config.measurement_name).toBe('istio_prom');
    expect(i.config.metric_types).toEqual(['counter', 'gauge']);
    expect(i.config.metric_name_filter).toContain('istio_requests_total');
    expect(i.tags).toEqual({ namespace: 'prod', pod_name: 'details-v1-5f4d8c7b9-abcde', node_name: 'node-a', deployment: 'details-v1-5f4d8c7b9' });
    expect(i.key).toBe('prod/details-v1-5f4d8c7b9-abcde#0');
  });

  it('supports several tables, $PODNAME/$NODENAME, and reports bad ones without dropping good ones', () => {
    const text = '[[inputs.prom]]\nurls = ["http://$IP:1/m"]\n[inputs.prom.tags]\np = "$PODNAME@$NODENAME"\n[[inputs.prom]]\nurls = "not a list"\n[[inputs.prom]]\nurl = "http://$IP:2/m"\nbogus = 1\n[[inputs.prom]]\nurl = "http://$IP:3/m"\n';
    const { instances, errors } = annotationInstances(makePod({ name: 'w-1', annotations: { 'datakit/prom.instances': text } }));
    expect(instances.map((i) => i.config.urls[0] ?? i.config.url)).toEqual(['http://127.0.0.1:1/m', 'http://127.0.0.1:3/m']);
    expect(instances[0]!.tags.p).toBe('w-1@node-a');
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatch(/bogus: unknown option/);
  });

  it('rejects invalid TOML with a reason and ignores non-Running pods', () => {
    expect(annotationInstances(makePod({ name: 'x', annotations: { 'datakit/prom.instances': '[[inputs.prom' } })).errors[0]).toMatch(/invalid TOML/);
    const pending = makePod({ name: 'x', phase: 'Pending', annotations: { 'datakit/prom.instances': seed } });
    expect(shouldScrape(pending)).toBe(false);
    expect(annotationInstances(pending).instances).toEqual([]);
  });
});

describe('prometheus.io annotations', () => {
  it('builds the URL from port, path and scheme', () => {
    const pod = makePod({ name: 'p', ip: '10.0.0.9', annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': 'stats', 'prometheus.io/scheme': 'https' } });
    const { instances } = prometheusInstances(pod);
    expect(instances[0]!.config.urls).toEqual(['https://10.0.0.9:8080/stats']);
    expect(instances[0]!.tags).toMatchObject({ namespace: 'default', pod_name: 'p' });
  });
  it('requires a port and ignores scrape != "true"', () => {
    expect(prometheusInstances(makePod({ name: 'p', annotations: { 'prometheus.io/scrape': 'true' } })).errors).toHaveLength(1);
    expect(prometheusInstances(makePod({ name: 'p', annotations: { 'prometheus.io/scrape': 'false', 'prometheus.io/port': '1' } })).instances).toEqual([]);
  });
});

describe('election', () => {
  it('elects conf.d scraping only; discovery instances are node-local', async () => {
    const { prom } = await import('./index.js');
    const { validate } = await import('../../agent/config/schema.js');
    const cfg = (raw: Record<string, unknown>) => {
      const r = validate(prom.schema, raw);
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      return r.value;
    };
    expect(prom.election?.(cfg({ urls: ['http://x:1/m'] }))).toBe(true);
    expect(prom.election?.(cfg({ urls: ['http://x:1/m'], election: false }))).toBe(false);
    expect(prom.election?.(cfg({ discover_pod_annotations: true }))).toBe(false);
    expect(prom.election?.(cfg({ discover_prometheus_annotations: true }))).toBe(false);
  });
});
