import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { schema } from './config.js';
import { ContainerFilter, filterIssues, isPauseImage, parseImage } from './filter.js';

describe('parseImage', () => {
  it.each([
    ['nginx', { name: 'nginx', shortName: 'nginx', tag: 'latest' }],
    ['docker.io/library/nginx:1.25', { name: 'docker.io/library/nginx', shortName: 'nginx', tag: '1.25' }],
    ['registry:5000/team/app', { name: 'registry:5000/team/app', shortName: 'app', tag: 'latest' }],
    ['registry:5000/team/app:v2', { name: 'registry:5000/team/app', shortName: 'app', tag: 'v2' }],
    ['app@sha256:abc', { name: 'app', shortName: 'app', tag: '' }],
  ])('%s', (image, parts) => expect(parseImage(image)).toEqual(parts));
});

describe('ContainerFilter', () => {
  const t = (image: string, namespace = 'default') => ({ image, namespace });
  it('collects everything without filters', () => {
    expect(new ContainerFilter([], []).allows(t('x'))).toBe(true);
  });
  it('honours the four prefixes; * crosses slashes', () => {
    const img = 'pubrepo.jiagouyun.com/datakit/logfwd:1.2';
    expect(new ContainerFilter([], ['image:*logfwd*']).allows(t(img))).toBe(false);
    expect(new ContainerFilter([], ['image_name:pubrepo.jiagouyun.com/datakit/*']).allows(t(img))).toBe(false);
    expect(new ContainerFilter([], ['image_name:*:1.2']).allows(t(img))).toBe(true);
    expect(new ContainerFilter([], ['image_short_name:logfwd']).allows(t(img))).toBe(false);
    expect(new ContainerFilter([], ['namespace:kube-*']).allows(t(img, 'kube-system'))).toBe(false);
    expect(new ContainerFilter([], ['namespace:kube-*']).allows(t(img, 'default'))).toBe(true);
  });
  it('include wins over exclude; unmatched containers are collected', () => {
    const f = new ContainerFilter(['image_short_name:nginx'], ['image:*']);
    expect(f.allows(t('docker.io/library/nginx:1'))).toBe(true);
    expect(f.allows(t('redis:7'))).toBe(false);
    const g = new ContainerFilter(['namespace:prod'], ['namespace:dev']);
    expect(g.allows(t('x', 'staging'))).toBe(true);
  });
  it('detects pause images', () => {
    expect(isPauseImage('registry.k8s.io/pause:3.9')).toBe(true);
    expect(isPauseImage('nginx')).toBe(false);
  });
});

describe('container config', () => {
  it('has DataKit defaults', () => {
    const r = validate(schema, {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      container_exclude_log: ['image:*logfwd*', 'image:*datakit*'],
      container_include_log: [],
      exclude_pause_container: true,
      logging_remove_ansi_escape_codes: false,
      logging_file_from_beginning: false,
      logging_file_from_beginning_threshold_size: 20_000_000,
      logging_max_open_files: 500,
      logging_enable_multiline: true,
      pod_logs_dir: '/var/log/pods',
      docker_logs_dir: '/var/lib/docker/containers',
    });
  });
  it('accepts the seed ConfigMap and rejects bad filter prefixes', () => {
    expect(
      validate(schema, {
        docker_endpoint: 'unix:///var/run/docker.sock',
        containerd_address: '/var/run/containerd/containerd.sock',
        enable_container_metric: true,
        enable_k8s_metric: true,
        enable_pod_metric: true,
        container_include_log: [],
        container_exclude_log: ['image:pubrepo.jiagouyun.com/datakit/logfwd*', 'image:pubrepo.jiagouyun.com/datakit/datakit*'],
        exclude_pause_container: true,
        logging_remove_ansi_escape_codes: false,
        kubernetes_url: 'https://kubernetes.default:443',
        bearer_token: '/run/secrets/kubernetes.io/serviceaccount/token',
        tags: { some_tag: 'v' },
      }).ok,
    ).toBe(true);
    const bad = validate(schema, { container_exclude_log: ['img:*', 'namespace:'] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.key)).toEqual(['container_exclude_log', 'container_exclude_log']);
    expect(filterIssues(['image:x', 'foo'])).toHaveLength(1);
  });
});
