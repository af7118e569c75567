/**
 * GitLab's documented webhook payloads posted over HTTP to a running agent
 * reach the test dataway as gitlab_pipeline / gitlab_job logging points.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

const testdata = (f: string) => fs.readFileSync(new URL(`../../inputs/gitlab/testdata/${f}`, import.meta.url), 'utf8');

describe('gitlab webhook end to end', () => {
  let t: TestAgent;
  const post = (event: string, body: string, token = 'tok') =>
    fetch(`${t.url}/v1/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-token': token },
      body,
    });

  beforeAll(async () => {
    t = await startTestAgent({
      conf: {
        'gitlab/gitlab.conf': '[[inputs.gitlab]]\nenable_collect = false\nsecret_token = "tok"\n[inputs.gitlab.ci_extra_tags]\nteam = "ci"\n',
      },
    });
  });
  afterAll(async () => t?.stop());

  it('Pipeline Hook → gitlab_pipeline with DataKit tags, host tags and extra tags', async () => {
    const res = await post('Pipeline Hook', testdata('pipeline.json'));
    expect(res.status).toBe(200);
    const [p] = await t.dataway.waitForPoints('logging', 1, { name: 'gitlab_pipeline' });
    expect(p!.tags).toMatchObject({ ci_status: 'success', pipeline_name: 'gitlab-org/gitlab-test', ref: 'master', commit_sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2', author_email: 'user@gitlab.com', team: 'ci', host: 'test-host' });
    expect(p!.fields.pipeline_id).toBe('31');
    expect(Number(p!.fields.duration)).toBe(63_000_000);
    expect(p!.fields.message).toBe('test\n');
  });

  it('Job Hook → gitlab_job for a finished job; the documented "created" job is ignored', async () => {
    expect(await (await post('Job Hook', testdata('job.json'))).json()).toEqual({ status: 'ignored', reason: 'status created is not collected' });
    const job = JSON.parse(testdata('job.json'));
    Object.assign(job, { build_status: 'failed', build_duration: 12.5, build_finished_at: '2021-02-23T02:45:00Z' });
    expect((await post('Job Hook', JSON.stringify(job))).status).toBe(200);
    const [j] = await t.dataway.waitForPoints('logging', 1, { name: 'gitlab_job' });
    expect(j!.tags).toMatchObject({ build_status: 'failed', build_name: 'test', build_failure_reason: 'script_failure', project_name: 'gitlab-org/gitlab-test' });
    expect(j!.fields).toMatchObject({ build_id: '1977', pipeline_id: '2366' });
    expect(Number(j!.fields.build_duration)).toBe(12_500_000);
    expect(t.dataway.points('logging', 'gitlab_job')).toHaveLength(1);
  });

  it('answers 4xx with a reason for bad requests and counts them', async () => {
    const unknown = await post('Push Hook', '{"object_kind":"push"}');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/Push Hook/);
    const bad = await post('Pipeline Hook', '{not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not valid JSON/);
    expect((await post('Pipeline Hook', testdata('pipeline.json'), 'nope')).status).toBe(401);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/telekit_gitlab_requests_total\{event="unknown",result="bad_request"\} 1/);
    expect(metrics).toMatch(/telekit_gitlab_requests_total\{event="pipeline",result="unauthorized"\} 1/);
  });
});
