import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import type { HttpRequest } from '../../agent/server/http-routes.js';
import { DEDUPE_MAX, gitlab, GitlabInput, PATH } from './index.js';
import { parseGitlabTime } from './convert.js';
import { schema, type GitlabConfig } from './config.js';

const PIPELINE = fs.readFileSync(new URL('./testdata/pipeline.json', import.meta.url));
const JOB = fs.readFileSync(new URL('./testdata/job.json', import.meta.url));

function finishedJob(): Buffer {
  const j = JSON.parse(JOB.toString());
  Object.assign(j, { build_status: 'success', build_started_at: '2021-02-23T02:41:40.000Z', build_finished_at: '2021-02-23T02:42:10.500Z', build_duration: 30.5, build_failure_reason: null });
  return Buffer.from(JSON.stringify(j));
}

/** Unit tests exercise the webhook: metric scraping is off unless a test turns it on. */
function config(raw: object = {}): GitlabConfig {
  return validConfig(schema, { enable_collect: false, ...raw });
}

function req(event: string | undefined, body: Buffer | string, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    path: PATH,
    query: {},
    headers: { ...(event ? { 'x-gitlab-event': event } : {}), ...headers },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    remoteAddress: '127.0.0.1',
  };
}

async function started(raw: object = {}) {
  const ctx = fakeContext('gitlab');
  const input = gitlab.create(config(raw), ctx) as GitlabInput;
  await input.start();
  const handler = ctx.routes.get(`POST ${PATH}`)!;
  return { ctx, input, post: async (r: HttpRequest) => handler(r) };
}

describe('gitlab webhook', () => {
  it('turns the documented Pipeline Hook into a gitlab_pipeline logging point with DataKit tags and fields', async () => {
    const { ctx, post } = await started({ ci_extra_tags: { team: 'ci', ref: 'must-not-win' } });
    const res = await post(req('Pipeline Hook', PIPELINE));
    expect(res.status).toBe(200);
    expect(ctx.points).toHaveLength(1);
    const p = ctx.points[0]!;
    expect(p.category).toBe('logging');
    expect(p.name).toBe('gitlab_pipeline');
    expect(p.tags).toEqual({
      object_kind: 'pipeline',
      ci_status: 'success',
      pipeline_name: 'gitlab-org/gitlab-test',
      pipeline_url: 'http://192.168.64.1:3005/gitlab-org/gitlab-test/pipelines/31',
      commit_sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2',
      author_email: 'user@gitlab.com',
      repository_url: 'http://192.168.64.1:3005/gitlab-org/gitlab-test.git',
      pipeline_source: 'merge_request_event',
      operation_name: 'pipeline',
      resource: 'Gitlab Test',
      ref: 'master',
      team: 'ci',
    });
    const created = Date.UTC(2016, 7, 12, 15, 23, 28);
    const finished = Date.UTC(2016, 7, 12, 15, 26, 29);
    expect(p.fields).toMatchObject({
      pipeline_id: '31',
      duration: 63_000_000n,
      created_at: BigInt(created),
      finished_at: BigInt(finished),
      queued_duration: BigInt(finished - created - 63_000),
      commit_message: 'test\n',
      message: 'test\n',
    });
    expect(JSON.parse(p.fields.event_raw as string).object_attributes.id).toBe(31);
  });

  it('keeps only finished jobs by default; the documented Job Hook (created) is acknowledged and ignored', async () => {
    const { ctx, post } = await started();
    const res = await post(req('Job Hook', JOB));
    expect(res).toMatchObject({ status: 200, body: { status: 'ignored' } });
    expect(ctx.points).toHaveLength(0);
    const ok = await post(req('Job Hook', finishedJob()));
    expect(ok.status).toBe(200);
    const p = ctx.points[0]!;
    expect(p.name).toBe('gitlab_job');
    expect(p.tags).toEqual({
      object_kind: 'build',
      sha: '2293ada6b400935a1378653304eaf6221e0fdb8f',
      build_name: 'test',
      build_stage: 'test',
      build_status: 'success',
      project_name: 'gitlab-org/gitlab-test',
      user_email: 'user@gitlab.com',
      build_commit_sha: '2293ada6b400935a1378653304eaf6221e0fdb8f',
      build_repo_name: 'gitlab_test',
      ref: 'gitlab-script-trigger',
    });
    expect(p.fields).toMatchObject({
      build_id: '1977',
      pipeline_id: '2366',
      project_id: '380',
      runner_id: '380987',
      build_duration: 30_500_000n,
      queued_duration: 1_095_588_715n,
      build_created_at: BigInt(Date.UTC(2021, 1, 23, 2, 41, 37, 886)),
      build_finished_at: BigInt(Date.UTC(2021, 1, 23, 2, 42, 10, 500)),
      build_commit_message: 'test\n',
    });
  });

  it('collects other statuses when configured', async () => {
    const { ctx, post } = await started({ statuses: ['created'] });
    expect((await post(req('Job Hook', JOB))).status).toBe(200);
    expect(ctx.points[0]!.tags.build_status).toBe('created');
    expect(ctx.points[0]!.fields.build_started_at).toBeUndefined();
  });

  it('answers 4xx with a reason for malformed or unknown events and never throws', async () => {
    const { ctx, post } = await started();
    const cases: [string | undefined, string, number, RegExp][] = [
      [undefined, '{}', 400, /missing X-Gitlab-Event/],
      ['Push Hook', '{}', 400, /unsupported X-Gitlab-Event "Push Hook"/],
      ['Pipeline Hook', '{"object_kind": "pipeline", ', 400, /not valid JSON/],
      ['Pipeline Hook', '[1,2]', 400, /not a JSON object/],
      ['Pipeline Hook', '{"object_kind":"build"}', 400, /expected "pipeline"/],
      ['Pipeline Hook', '{"object_kind":"pipeline"}', 400, /without object_attributes/],
      ['Pipeline Hook', '{"object_kind":"pipeline","object_attributes":{}}', 400, /without object_attributes.status/],
      ['Job Hook', '{"object_kind":"build","build_status":7}', 400, /without build_status/],
      ['Job Hook', '\u0000\u0001binary', 400, /not valid JSON/],
    ];
    for (const [ev, body, status, reason] of cases) {
      const res = await post(req(ev, body));
      expect(res.status, body).toBe(status);
      expect((res.body as { error: string }).error).toMatch(reason);
    }
    expect(ctx.points).toHaveLength(0);
    const m = await ctx.metrics.getSingleMetricAsString('telekit_gitlab_requests_total');
    expect(m).toMatch(/event="unknown",result="bad_request"} 2/);
    expect(m).toMatch(/event="pipeline",result="bad_request"} 5/);
  });

  it('checks the secret token and drops duplicate deliveries', async () => {
    const { ctx, post } = await started({ secret_token: 's3cret' });
    expect((await post(req('Pipeline Hook', PIPELINE))).status).toBe(401);
    expect((await post(req('Pipeline Hook', PIPELINE, { 'x-gitlab-token': 'wrong!' }))).status).toBe(401);
    expect((await post(req('Pipeline Hook', PIPELINE, { 'x-gitlab-token': 's3cret' }))).status).toBe(200);
    expect(await post(req('Pipeline Hook', PIPELINE, { 'x-gitlab-token': 's3cret' }))).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(ctx.points).toHaveLength(1);
  });

  it('keeps the dedupe memory bounded and evicts the oldest bodies first', async () => {
    const { ctx, input, post } = await started();
    const body = (i: number) => JSON.stringify({ ...JSON.parse(PIPELINE.toString()), object_attributes: { ...JSON.parse(PIPELINE.toString()).object_attributes, id: i } });
    const bodies = Array.from({ length: DEDUPE_MAX + 5 }, (_, i) => body(i));
    for (const b of bodies) await post(req('Pipeline Hook', b));
    expect((input as unknown as { seen: Map<string, number> }).seen.size).toBe(DEDUPE_MAX);
    expect((await post(req('Pipeline Hook', bodies.at(-1)!))).body).toEqual({ status: 'duplicate' });
    expect((await post(req('Pipeline Hook', bodies[0]!))).body).toEqual({ status: 'accepted' }); // evicted, so accepted again
    expect(ctx.points).toHaveLength(DEDUPE_MAX + 6);
  });

  it('answers 503 when the pipeline drops the point, and lets the retry through', async () => {
    const { ctx, post } = await started();
    const add = ctx.acc.add;
    ctx.acc.add = () => 0;
    const res = await post(req('Pipeline Hook', PIPELINE));
    expect(res.status).toBe(503);
    expect(res.headers?.['retry-after']).toBe('5');
    ctx.acc.add = add;
    expect((await post(req('Pipeline Hook', PIPELINE))).status).toBe(200);
    expect(ctx.points).toHaveLength(1);
  });

  it('registers the route on start, removes it on stop; no route without enable_ci_visibility', async () => {
    const { ctx, input } = await started();
    expect(ctx.routes.has(`POST ${PATH}`)).toBe(true);
    await input.stop();
    await input.stop();
    expect(ctx.routes.size).toBe(0);
    const off = await started({ enable_ci_visibility: false });
    expect(off.ctx.routes.size).toBe(0);
  });

  it('parses GitLab time formats', () => {
    expect(parseGitlabTime('2016-08-12 15:23:28 UTC')).toBe(Date.UTC(2016, 7, 12, 15, 23, 28));
    expect(parseGitlabTime('2021-04-28 21:50:00 +0200')).toBe(Date.UTC(2021, 3, 28, 19, 50));
    expect(parseGitlabTime('2021-02-23T02:41:37.886Z')).toBe(Date.UTC(2021, 1, 23, 2, 41, 37, 886));
    expect(parseGitlabTime(null)).toBeUndefined();
    expect(parseGitlabTime('yesterday')).toBeUndefined();
  });
});

describe('gitlab lifecycle', () => {
  it('start → stop → start on the same route keeps working', async () => {
    const ctx = fakeContext('gitlab');
    const cfg = config();
    const a = gitlab.create(cfg, ctx) as GitlabInput;
    await a.start();
    await a.stop();
    const b = gitlab.create(cfg, ctx) as GitlabInput;
    await b.start(); // the route is free again
    const res = await ctx.routes.get(`POST ${PATH}`)!(req('Pipeline Hook', PIPELINE));
    expect(res.status).toBe(200);
    expect(a.handle(req('Pipeline Hook', PIPELINE)).status).toBe(503); // a stopped instance refuses
    await b.stop();
  });
});

describe('gitlab metrics (enable_collect)', () => {
  const METRICS = fs.readFileSync(new URL('./testdata/metrics.txt', import.meta.url), 'utf8');

  it('maps counters and histograms like DataKit: gitlab, gitlab_base, gitlab_http', async () => {
    const { gitlabMetricPoints, scrapeHostTag } = await import('./metrics.js');
    const pts = gitlabMetricPoints(METRICS, scrapeHostTag('http://gitlab.internal:8080/-/metrics'));
    const byName = (n: string) => pts.filter((p) => p.name === n).map((p) => ({ tags: p.tags, fields: p.fields }));
    expect(byName('gitlab_base')).toEqual([
      { tags: { host: 'gitlab.internal' }, fields: { rails_queue_duration_seconds_sum: 1.5, rails_queue_duration_seconds_count: 12 } },
      { tags: { host: 'gitlab.internal' }, fields: { cache_misses_total: 9 } },
    ]);
    expect(byName('gitlab')).toEqual([
      { tags: { controller: 'Projects::BlobController', action: 'show', host: 'gitlab.internal' }, fields: { transaction_cache_read_hit_count_total: 7 } },
    ]);
    expect(byName('gitlab_http')).toEqual([
      { tags: { method: 'get', host: 'gitlab.internal' }, fields: { http_request_duration_seconds_sum: 0.2, http_request_duration_seconds_count: 3 } },
    ]);
    expect(pts.every((p) => p.category === 'metric')).toBe(true);
    expect(scrapeHostTag('http://127.0.0.1:80/-/metrics')).toBeUndefined();
  });

  it('scrapes the configured URL on start and counts a failing scrape as an error', async () => {
    const http = await import('node:http');
    const server = http.createServer((_q, r) => r.end(METRICS));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const ctx = fakeContext('gitlab');
      const input = gitlab.create(config({ enable_collect: true, prometheus_url: `http://127.0.0.1:${port}/-/metrics`, enable_ci_visibility: false }), ctx);
      await input.start();
      await input.stop(); // waits for the scrape start() began
      expect(ctx.points.map((p) => p.name).sort()).toEqual(['gitlab', 'gitlab_base', 'gitlab_base', 'gitlab_http']);
      expect(ctx.errors).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const ctx = fakeContext('gitlab');
    const input = gitlab.create(config({ enable_collect: true, prometheus_url: `http://127.0.0.1:${port}/-/metrics` }), ctx);
    await input.start();
    await input.stop();
    expect(ctx.errors.map((e) => e.kind)).toEqual(['collect']);
    expect(ctx.routes.size).toBe(0);
  });
});
