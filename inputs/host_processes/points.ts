/**
 * DataKit's `host_processes` points from what the reader found: the object
 * (category object, one per process and object interval) and the metric
 * (when `open_metric`), with DataKit's tag and field names and types.
 */
import { int, UInt, type FieldValue, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import { HZ, type ProcInfo } from './reader.js';
import { stateName } from './parse.js';

export const MEASUREMENT = 'host_processes';

/** The figures objects and metrics share (DataKit's Parse()). */
function common(p: ProcInfo, memTotal: number): Record<string, FieldValue> {
  const f: Record<string, FieldValue> = {
    rss: uint(p.status.vmRss),
    vms: uint(p.status.vmSize),
    mem_used_percent: memTotal > 0 ? (100 * p.status.vmRss) / memTotal : 0,
    cpu_usage: p.cpuUsage,
    // DataKit's "average over the collection interval": the same figure as cpu_usage here
    cpu_usage_top: p.cpuUsage,
    threads: int(p.stat.numThreads),
    voluntary_ctxt_switches: int(p.status.voluntaryCtxtSwitches),
    nonvoluntary_ctxt_switches: int(p.status.nonvoluntaryCtxtSwitches),
    page_minor_faults: uint(p.stat.minflt),
    page_major_faults: uint(p.stat.majflt),
    page_children_minor_faults: uint(p.stat.cminflt),
    page_children_major_faults: uint(p.stat.cmajflt),
  };
  if (p.io) {
    f.proc_syscr = uint(p.io.syscr);
    f.proc_syscw = uint(p.io.syscw);
    f.proc_read_bytes = uint(p.io.readBytes);
    f.proc_write_bytes = uint(p.io.writeBytes);
  }
  if (p.openFiles !== undefined) f.open_files = int(p.openFiles);
  return f;
}

function baseTags(p: ProcInfo): Record<string, string> {
  const t: Record<string, string> = { process_name: p.name, username: p.username };
  if (p.containerId !== '') t.container_id = p.containerId;
  return t;
}

/** Every tag and field an object may carry, plus gopsutil's `memory` and `cpu` (the message's keys besides the core's tags). */
const OBJECT_KEYS = [
  'name', 'process_name', 'username', 'state', 'container_id',
  'rss', 'vms', 'mem_used_percent', 'cpu_usage', 'cpu_usage_top', 'threads', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches',
  'page_minor_faults', 'page_major_faults', 'page_children_minor_faults', 'page_children_major_faults',
  'proc_syscr', 'proc_syscw', 'proc_read_bytes', 'proc_write_bytes', 'open_files',
  'listen_ports', 'state_zombie', 'pid', 'started_duration', 'start_time', 'work_directory', 'cmdline',
  'memory', 'cpu',
];

/** The message's keys in the order Go's encoding/json writes a map (sorted), each with its JSON text. */
export function messageKeys(addTags: Readonly<Record<string, string>>): [key: string, json: string][] {
  const keys = [...new Set([...Object.keys(addTags), ...OBJECT_KEYS])].sort();
  return keys.map((k) => [k, JSON.stringify(k)]);
}

function jsonValue(v: FieldValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof UInt) return String(v.value);
  return JSON.stringify(v.toString());
}

/** Go's encoding/json escapes these (HTML-safe output); JSON.stringify does not. */
const GO_ESCAPES = /[<>&\u2028\u2029]/g;
const HAS_GO_ESCAPE = /[<>&\u2028\u2029]/;
const goEscape = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');

/**
 * The object. `addTags` are the tags the core will add (input tags, then the
 * global host tags) and `keys` {@link messageKeys} of them: DataKit's `message`
 * repeats every tag and field of the point for full-text search, plus
 * gopsutil's `memory` and `cpu` structures, as JSON with sorted keys (written
 * here directly: building and sorting an object per process cost more than the rest of the point).
 */
export function objectPoint(
  p: ProcInfo,
  hostname: string,
  memTotal: number,
  now: number,
  time: bigint,
  addTags: Readonly<Record<string, string>>,
  keys: readonly [string, string][] = messageKeys(addTags),
): Point {
  const tags = baseTags(p);
  tags.name = `${hostname}_${p.pid}`;
  const state = stateName(p.stat.state);
  tags.state = state;
  const fields = common(p, memTotal);
  if (p.listenPorts !== undefined) fields.listen_ports = p.listenPorts.length ? JSON.stringify(p.listenPorts) : 'null';
  fields.state_zombie = state === 'zombie';
  fields.pid = int(p.pid);
  fields.started_duration = int(Math.max(0, (now - p.startMs) / 1000));
  fields.start_time = int(p.startMs);
  if (p.cwd !== undefined) fields.work_directory = p.cwd;
  fields.cmdline = p.hasCmdline ? p.cmdline : `(${p.name})`;

  const s = p.status;
  let msg = '';
  for (const [k, kj] of keys) {
    let v: string;
    const f = fields[k];
    if (f !== undefined) v = jsonValue(f);
    else if (k === 'memory') v = `{"rss":${s.vmRss},"vms":${s.vmSize},"hwm":${s.vmHwm},"data":${s.vmData},"stack":${s.vmStk},"locked":${s.vmLck},"swap":${s.vmSwap}}`;
    else if (k === 'cpu') {
      v = `{"cpu":"cpu","user":${p.stat.utime / HZ},"system":${p.stat.stime / HZ},"idle":0,"nice":0,"iowait":${p.stat.blkioTicks / HZ},"irq":0,"softirq":0,"steal":0,"guest":0,"guestNice":0}`;
    } else {
      const t = tags[k] ?? addTags[k];
      if (t === undefined) continue;
      v = JSON.stringify(t);
    }
    msg += (msg === '' ? '{' : ',') + kj + ':' + v;
  }
  msg += '}';
  fields.message = HAS_GO_ESCAPE.test(msg) ? msg.replace(GO_ESCAPES, goEscape) : msg;
  return { category: 'object', name: MEASUREMENT, tags, fields, time };
}

/** The metric: the shared figures, with pid and cmdline as tags (DataKit's choice). */
export function metricPoint(p: ProcInfo, memTotal: number, time: bigint): Point {
  const tags = baseTags(p);
  tags.pid = String(p.pid);
  tags.cmdline = p.cmdline;
  return { category: 'metric', name: MEASUREMENT, tags, fields: common(p, memTotal), time };
}
