/**
 * DogStatsD events and service checks as points (README "Events and service
 * checks"). DataKit drops both (its accumulator keeps only single-field
 * points); telekit keeps them:
 *
 * - event `_e{}`        → category keyevent, measurement `statsd_event`
 * - service check `_sc` → category metric, measurement `statsd_service_check`
 */
import { nowNs, type Point } from '../../agent/model/point.js';
import { CHECK_STATUS, type DogEvent, type DogServiceCheck } from './parser.js';

const EVENT_STATUS: Record<DogEvent['alertType'], string> = { info: 'info', warning: 'warning', error: 'error', success: 'ok' };

function secondsToNs(s: number | undefined): bigint {
  return s === undefined ? nowNs() : BigInt(Math.round(s)) * 1_000_000_000n;
}

function moveHost(tags: Record<string, string>, explicit: string | undefined, key: string): void {
  // the agent's `host` names the node; the sender's host goes to its own tag
  const h = explicit ?? tags.host;
  delete tags.host;
  if (h !== undefined && h !== '') tags[key] = h;
}

export function eventPoint(ev: DogEvent, dropTags: ReadonlySet<string>): Point {
  const tags: Record<string, string> = { ...ev.tags };
  moveHost(tags, ev.host, 'event_host');
  tags.source = 'statsd';
  tags.df_source = 'statsd';
  tags.df_status = EVENT_STATUS[ev.alertType];
  tags.alert_type = ev.alertType;
  tags.priority = ev.priority;
  if (ev.aggregationKey) tags.aggregation_key = ev.aggregationKey;
  if (ev.sourceType) tags.source_type_name = ev.sourceType;
  for (const k of dropTags) delete tags[k];
  return {
    category: 'keyevent',
    name: 'statsd_event',
    tags,
    fields: { df_title: ev.title, df_message: ev.text, title: ev.title, message: ev.text },
    time: secondsToNs(ev.timestamp),
  };
}

export function serviceCheckPoint(sc: DogServiceCheck, dropTags: ReadonlySet<string>): Point {
  const tags: Record<string, string> = { ...sc.tags };
  moveHost(tags, sc.host, 'check_host');
  tags.check = sc.name;
  tags.status = CHECK_STATUS[sc.status];
  tags.metric_type = 'service_check';
  for (const k of dropTags) delete tags[k];
  const fields: Point['fields'] = { status: BigInt(sc.status) };
  if (sc.message !== undefined && sc.message !== '') fields.message = sc.message;
  return { category: 'metric', name: 'statsd_service_check', tags, fields, time: secondsToNs(sc.timestamp) };
}
