/**
 * GitLab webhook payloads → DataKit's gitlab_pipeline / gitlab_job points
 * (category logging). Field names, units and the tag set follow DataKit's
 * gitlab input: durations in microseconds, timestamps in milliseconds, ids as
 * strings, the raw event in `event_raw`.
 */
import { int, nowNs, type Point } from '../../agent/model/point.js';

export class BadEvent extends Error {}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const id = (v: unknown): string | undefined => (typeof v === 'number' || (typeof v === 'string' && v !== '') ? String(v) : undefined);

/**
 * GitLab timestamps come as "2016-08-12 15:23:28 UTC", "2021-04-28 21:50:00 +0200"
 * or ISO 8601. Returns epoch milliseconds, or undefined for null/unparsable.
 */
export function parseGitlabTime(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(UTC|Z|[+-]\d{2}:?\d{2})?$/.exec(v.trim());
  let ms: number;
  if (m) {
    const zone = !m[3] || m[3] === 'UTC' || m[3] === 'Z' ? 'Z' : m[3].length === 5 ? `${m[3].slice(0, 3)}:${m[3].slice(3)}` : m[3];
    ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  } else ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

function setTag(tags: Record<string, string>, k: string, v: string | undefined): void {
  if (v !== undefined && v !== '') tags[k] = v;
}

export interface Converted {
  /** undefined when the event's status is not one we keep. */
  point: Point | undefined;
  status: string;
}

export function parseBody(body: Buffer): Json {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new BadEvent(`body is not valid JSON: ${(e as Error).message}`);
  }
  const o = obj(v);
  if (!o) throw new BadEvent('body is not a JSON object');
  return o;
}

export function pipelinePoint(ev: Json, raw: string, keep: ReadonlySet<string>): Converted {
  if (ev.object_kind !== 'pipeline') throw new BadEvent(`Pipeline Hook with object_kind ${JSON.stringify(ev.object_kind)}, expected "pipeline"`);
  const attrs = obj(ev.object_attributes);
  if (!attrs) throw new BadEvent('Pipeline Hook without object_attributes');
  const status = str(attrs.status);
  if (status === undefined) throw new BadEvent('Pipeline Hook without object_attributes.status');
  if (!keep.has(status)) return { point: undefined, status };
  const project = obj(ev.project) ?? {};
  const commit = obj(ev.commit) ?? {};
  const author = obj(commit.author) ?? {};
  const pid = id(attrs.id);
  const tags: Record<string, string> = {};
  setTag(tags, 'object_kind', 'pipeline');
  setTag(tags, 'ci_status', status);
  setTag(tags, 'pipeline_name', str(project.path_with_namespace));
  if (str(project.web_url) && pid) tags.pipeline_url = `${str(project.web_url)}/pipelines/${pid}`;
  setTag(tags, 'commit_sha', str(commit.id));
  setTag(tags, 'author_email', str(author.email));
  setTag(tags, 'repository_url', str(project.git_http_url));
  setTag(tags, 'pipeline_source', str(attrs.source));
  setTag(tags, 'operation_name', 'pipeline');
  setTag(tags, 'resource', str(project.name));
  setTag(tags, 'ref', str(attrs.ref));

  const durationUs = (num(attrs.duration) ?? 0) * 1e6;
  const created = parseGitlabTime(attrs.created_at) ?? 0;
  const finished = parseGitlabTime(attrs.finished_at) ?? 0;
  const fields: Point['fields'] = {
    created_at: int(created),
    finished_at: int(finished),
    duration: int(durationUs),
    // time waiting for runners: wall time minus running time (DataKit's definition), ms
    queued_duration: int(created && finished ? finished - created - durationUs / 1000 : 0),
    event_raw: raw,
  };
  if (pid) fields.pipeline_id = pid;
  const msg = str(commit.message);
  if (msg !== undefined) {
    fields.commit_message = msg;
    fields.message = msg;
  }
  return { point: { category: 'logging', name: 'gitlab_pipeline', tags, fields, time: nowNs() }, status };
}

export function jobPoint(ev: Json, raw: string, keep: ReadonlySet<string>): Converted {
  if (ev.object_kind !== 'build') throw new BadEvent(`Job Hook with object_kind ${JSON.stringify(ev.object_kind)}, expected "build"`);
  const status = str(ev.build_status);
  if (status === undefined) throw new BadEvent('Job Hook without build_status');
  if (!keep.has(status)) return { point: undefined, status };
  const commit = obj(ev.commit) ?? {};
  const user = obj(ev.user) ?? {};
  const repo = obj(ev.repository) ?? {};
  const runner = obj(ev.runner) ?? {};
  const tags: Record<string, string> = {};
  setTag(tags, 'object_kind', 'build');
  setTag(tags, 'sha', str(ev.sha));
  setTag(tags, 'build_name', str(ev.build_name));
  setTag(tags, 'build_stage', str(ev.build_stage));
  setTag(tags, 'build_status', status);
  setTag(tags, 'project_name', str(ev.project_name));
  setTag(tags, 'build_failure_reason', str(ev.build_failure_reason));
  setTag(tags, 'user_email', str(user.email));
  setTag(tags, 'build_commit_sha', str(commit.sha));
  setTag(tags, 'build_repo_name', str(repo.name));
  setTag(tags, 'ref', str(ev.ref)); // telekit extension

  const fields: Point['fields'] = { event_raw: raw };
  const put = (k: string, v: string | undefined) => v !== undefined && (fields[k] = v);
  put('build_id', id(ev.build_id));
  put('pipeline_id', id(ev.pipeline_id));
  put('project_id', id(ev.project_id));
  put('runner_id', id(runner.id));
  for (const [k, src] of [
    ['build_created_at', ev.build_created_at],
    ['build_started_at', ev.build_started_at],
    ['build_finished_at', ev.build_finished_at],
  ] as const) {
    const t = parseGitlabTime(src);
    if (t !== undefined) fields[k] = int(t);
  }
  const dur = num(ev.build_duration);
  if (dur !== undefined) fields.build_duration = int(dur * 1e6);
  const queued = num(ev.build_queued_duration);
  if (queued !== undefined) fields.queued_duration = int(queued * 1e6);
  const msg = str(commit.message);
  if (msg !== undefined) {
    fields.build_commit_message = msg;
    fields.message = msg;
  }
  return { point: { category: 'logging', name: 'gitlab_job', tags, fields, time: nowNs() }, status };
}
