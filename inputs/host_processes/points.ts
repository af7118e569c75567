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

/** A field as the JSON value DataKit's message holds (numbers, not line-protocol types). */
function plain(v: FieldValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof UInt) return Number(v.value);
  return v;
}

/**
 * The object. `addTags` are the tags the core will add (input tags, then the
 * global host tags): DataKit's `message` repeats every tag and field of the
 * point for full-text search, plus gopsutil's `memory` and `cpu` structures.
 */
export function objectPoint(p: ProcInfo, hostname: string, memTotal: number, now: number, time: bigint, addTags: Readonly<Record<string, string>>): Point {
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

  const msg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(addTags)) msg[k] = v;
  for (const [k, v] of Object.entries(tags)) msg[k] = v;
  for (const [k, v] of Object.entries(fields)) msg[k] = plain(v);
  const s = p.status;
  msg.memory = { rss: s.vmRss, vms: s.vmSize, hwm: s.vmHwm, data: s.vmData, stack: s.vmStk, locked: s.vmLck, swap: s.vmSwap };
  msg.cpu = {
    cpu: 'cpu',
    user: p.stat.utime / HZ,
    system: p.stat.stime / HZ,
    idle: 0,
    nice: 0,
    iowait: p.stat.blkioTicks / HZ,
    irq: 0,
    softirq: 0,
    steal: 0,
    guest: 0,
    guestNice: 0,
  };
  // Go's encoding/json writes map keys sorted
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(msg).sort()) sorted[k] = msg[k];
  fields.message = JSON.stringify(sorted);
  return { category: 'object', name: MEASUREMENT, tags, fields, time };
}

/** The metric: the shared figures, with pid and cmdline as tags (DataKit's choice). */
export function metricPoint(p: ProcInfo, memTotal: number, time: bigint): Point {
  const tags = baseTags(p);
  tags.pid = String(p.pid);
  tags.cmdline = p.cmdline;
  return { category: 'metric', name: MEASUREMENT, tags, fields: common(p, memTotal), time };
}
