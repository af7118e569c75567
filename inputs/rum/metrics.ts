/** The rum input's self-metrics (bounded labels: results, sources and statuses are fixed sets). */
import { Counter, type Registry } from 'prom-client';
import { TallyCells } from '../../agent/telemetry/tally.js';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export type RumResult =
  | 'accepted'
  | 'bad_request'
  | 'bad_body'
  | 'empty'
  | 'unknown_measurement'
  | 'missing_app_id'
  | 'app_id_refused'
  | 'too_large'
  | 'dropped'
  | 'stopping';

export class RumMetrics {
  /** Requests by endpoint (`rum`, `replay`) and result. */
  readonly requests: Counter<'endpoint' | 'result'>;
  /** Points accepted, by measurement (the measurement set is the configured list). */
  readonly points: Counter<'measurement'>;
  /** Client address: where it came from (header, fallback_header, socket) and how its location went. */
  readonly clientIp: Counter<'source' | 'locate'>;
  /** Sourcemap resolution of error points by status. */
  readonly sourcemaps: Counter<'status'>;
  /** Calls of the sourcemap API (PUT/DELETE /v1/sourcemap) by result. */
  readonly sourcemapApi: Counter<'result'>;
  /** The per-request counts of the beacon path, kept as numbers until /metrics is read (agent/telemetry/tally.ts). */
  readonly pointsBy: TallyCells<'measurement'>;
  /** `<source> <locate>` */
  readonly clientIpBy: TallyCells<'source' | 'locate'>;
  /** `<endpoint> <result>` */
  readonly requestsBy: TallyCells<'endpoint' | 'result'>;

  constructor(registry: Registry) {
    this.requests = counter(registry, 'telekit_rum_requests_total', 'RUM requests by endpoint (rum, replay) and result', ['endpoint', 'result']);
    this.points = counter(registry, 'telekit_rum_points_total', 'RUM points accepted by measurement', ['measurement']);
    this.clientIp = counter(registry, 'telekit_rum_client_ip_total', 'RUM requests by client address source and location lookup status', ['source', 'locate']);
    this.sourcemapApi = counter(registry, 'telekit_rum_sourcemap_api_total', 'Calls of PUT/DELETE /v1/sourcemap by result (uploaded, deleted, bad_request, bad_token, bad_zip, not_found, failed)', ['result']);
    this.pointsBy = new TallyCells(this.points, (measurement) => ({ measurement }));
    this.clientIpBy = new TallyCells(this.clientIp, (k) => ({ source: k.slice(0, k.indexOf(' ')), locate: k.slice(k.indexOf(' ') + 1) }));
    this.requestsBy = new TallyCells(this.requests, (k) => ({ endpoint: k.slice(0, k.indexOf(' ')), result: k.slice(k.indexOf(' ') + 1) }));
    this.sourcemaps = counter(registry, 'telekit_rum_sourcemap_total', 'RUM error points by sourcemap status (ok, no_stack, zip_not_found, bad_zip, map_not_found)', ['status']);
  }
}
