/**
 * gitlab: receives GitLab's Pipeline Hook and Job Hook webhooks at /v1/gitlab
 * and turns finished pipelines and jobs into gitlab_pipeline / gitlab_job
 * points (category logging), like DataKit's gitlab input with
 * enable_ci_visibility.
 */
import crypto from 'node:crypto';
import { Counter } from 'prom-client';
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { clampInterval, PeriodicInput } from '../../agent/services/host/periodic.js';
import type { Point } from '../../agent/model/point.js';
import { BadEvent, jobPoint, parseBody, pipelinePoint } from './convert.js';
import { gitlabMetricPoints, scrapeHostTag } from './metrics.js';
import { schema, type GitlabConfig } from './config.js';

export const PATH = '/v1/gitlab';
const EVENTS: Record<string, 'pipeline' | 'job'> = { 'Pipeline Hook': 'pipeline', 'Job Hook': 'job' };
/** GitLab may resend an event it thinks failed: identical bodies within this window are dropped. */
const DEDUPE_MS = 30_000;
export const DEDUPE_MAX = 10_000;
const BODY_LIMIT = 16 << 20;

type Result = 'accepted' | 'ignored' | 'duplicate' | 'bad_request' | 'unauthorized' | 'dropped';

function counter(ctx: InputContext): Counter<'event' | 'result'> {
  const name = 'telekit_gitlab_requests_total';
  const existing = ctx.metrics.getSingleMetric(name);
  if (existing) return existing as Counter<'event' | 'result'>;
  return new Counter({
    name,
    help: 'GitLab webhook requests by event (pipeline, job, unknown) and result',
    labelNames: ['event', 'result'],
    registers: [ctx.metrics],
  });
}

export class GitlabInput implements Input {
  private unregister: (() => void) | undefined;
  private readonly seen = new Map<string, number>();
  private readonly keep: ReadonlySet<string>;
  private readonly requests: Counter<'event' | 'result'>;
  private readonly token: Buffer | undefined;
  private accepting = false;
  private scraper: PeriodicInput | undefined;

  constructor(
    private readonly cfg: GitlabConfig,
    private readonly ctx: InputContext,
  ) {
    this.keep = new Set(cfg.statuses);
    this.requests = counter(ctx);
    this.token = cfg.secret_token ? Buffer.from(cfg.secret_token) : undefined;
  }

  async start(): Promise<void> {
    if (this.cfg.enable_collect && this.cfg.prometheus_url) {
      this.scraper = new PeriodicInput(this.ctx, clampInterval(this.cfg.interval), { collect: () => this.scrape() });
      await this.scraper.start();
    }
    if (!this.cfg.enable_ci_visibility) return;
    this.accepting = true;
    this.unregister = this.ctx.http.route(['POST'], PATH, (req) => this.handle(req), { bodyLimit: BODY_LIMIT });
    this.ctx.log.info({ path: PATH }, 'Listening for GitLab pipeline and job webhooks.');
  }

  async stop(): Promise<void> {
    this.accepting = false;
    this.unregister?.();
    this.unregister = undefined;
    await this.scraper?.stop();
    this.scraper = undefined;
  }

  /** One scrape of GitLab's /-/metrics; with election on, only the leader scrapes (DataKit's `election`). */
  private async scrape(): Promise<Point[]> {
    const election = this.cfg.election ? this.ctx.k8s?.election : undefined;
    if (election && !election.isLeader()) return [];
    const res = await fetch(this.cfg.prometheus_url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET ${this.cfg.prometheus_url} answered ${res.status}`);
    return gitlabMetricPoints(await res.text(), scrapeHostTag(this.cfg.prometheus_url));
  }

  private reply(event: string, result: Result, status: number, body: object): HttpResponse {
    this.requests.inc({ event, result });
    return { status, body };
  }

  private tokenOk(h: string | string[] | undefined): boolean {
    if (!this.token) return true;
    const got = Buffer.from(Array.isArray(h) ? (h[0] ?? '') : (h ?? ''));
    return got.length === this.token.length && crypto.timingSafeEqual(got, this.token);
  }

  /** True when this body was seen recently (and remembers it otherwise). */
  private duplicate(digest: string, now: number): boolean {
    const at = this.seen.get(digest);
    if (at !== undefined && now - at < DEDUPE_MS) return true;
    // insertion order is arrival order: evict from the oldest end, stop at the first live entry
    for (const [k, t] of this.seen) {
      if (now - t < DEDUPE_MS && this.seen.size < DEDUPE_MAX) break;
      this.seen.delete(k);
    }
    this.seen.delete(digest); // re-insert at the young end
    this.seen.set(digest, now);
    return false;
  }

  handle(req: HttpRequest): HttpResponse {
    if (!this.accepting) return { status: 503, body: { error: 'gitlab input is stopping' }, headers: { 'retry-after': '1' } };
    const header = req.headers['x-gitlab-event'];
    const eventName = Array.isArray(header) ? header[0] : header;
    const kind = eventName ? EVENTS[eventName] : undefined;
    if (!this.tokenOk(req.headers['x-gitlab-token'])) {
      return this.reply(kind ?? 'unknown', 'unauthorized', 401, { error: 'X-Gitlab-Token does not match the configured secret_token' });
    }
    if (!kind) {
      return this.reply('unknown', 'bad_request', 400, {
        error: eventName ? `unsupported X-Gitlab-Event ${JSON.stringify(eventName)}: only Pipeline Hook and Job Hook` : 'missing X-Gitlab-Event header',
      });
    }
    const now = Date.now();
    const digest = crypto.createHash('sha256').update(req.body).digest('base64');
    if (this.duplicate(digest, now)) return this.reply(kind, 'duplicate', 200, { status: 'duplicate' });
    let converted;
    try {
      const ev = parseBody(req.body);
      converted = kind === 'pipeline' ? pipelinePoint(ev, req.body.toString('utf8'), this.keep) : jobPoint(ev, req.body.toString('utf8'), this.keep);
    } catch (e) {
      this.seen.delete(digest);
      if (e instanceof BadEvent) return this.reply(kind, 'bad_request', 400, { error: e.message });
      this.ctx.acc.error('convert', e);
      return this.reply(kind, 'bad_request', 400, { error: 'cannot convert the event' });
    }
    if (!converted.point) return this.reply(kind, 'ignored', 200, { status: 'ignored', reason: `status ${converted.status} is not collected` });
    for (const [k, v] of Object.entries(this.cfg.ci_extra_tags)) if (!(k in converted.point.tags)) converted.point.tags[k] = v;
    if (this.ctx.acc.add(converted.point) === 0) {
      this.seen.delete(digest); // let GitLab's retry through
      return { ...this.reply(kind, 'dropped', 503, { error: 'agent queue is full; retry later' }), headers: { 'retry-after': '5' } };
    }
    return this.reply(kind, 'accepted', 200, { status: 'accepted' });
  }
}

export const gitlab: InputDefinition<GitlabConfig> = {
  name: 'gitlab',
  description: 'GitLab CI pipeline and job webhooks at /v1/gitlab',
  schema,
  create(cfg, ctx) {
    return new GitlabInput(cfg, ctx);
  },
};
