import { bool, duration, list, object, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Scrape GitLab's Prometheus endpoint (counters and histograms) into gitlab, gitlab_base, gitlab_http. */
  enable_collect: bool(true),
  prometheus_url: str('http://127.0.0.1:80/-/metrics'),
  interval: duration('10s'),
  /** Serve GitLab's Pipeline and Job webhooks at /v1/gitlab. */
  enable_ci_visibility: bool(true),
  /** With election on, only the leader scrapes; the webhook runs on every node either way. */
  election: bool(true),
  /** Tags added to gitlab_pipeline/gitlab_job points; they never overwrite the event's own tags. */
  ci_extra_tags: tags(),
  /**
   * telekit extension: the webhook's secret token. When set, requests whose
   * X-Gitlab-Token differs are refused with 401.
   */
  secret_token: str(''),
  /**
   * telekit extension: the pipeline/job statuses that become points. DataKit
   * keeps only finished ones (success, failed); add e.g. "canceled" or "running".
   */
  statuses: list(str(), ['success', 'failed']),
  tags: tags(),
});

export type GitlabConfig = Infer<typeof schema>;
