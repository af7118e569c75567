/**
 * DataKit's `host_processes` points from what the reader found: the object
 * (category object, one per process and object interval) and the metric
 * (when `open_metric`), with DataKit's tag and field names and types.
 *
 * A process's tags rarely change between collections, so each process keeps
 * one frozen tags object per kind until its name, user (or, for objects,
 * state or host name) changes: the core escapes a frozen tags object's text
 * once, not once per point (lineproto.ts, linebuf.ts).
 */
import { int, type FieldValue, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import { HZ, type ProcInfo } from './proc.js';
import { stateName } from './parse.js';

export const MEASUREMENT = 'host_processes';

/**
 * Integer fields by slot. A process's counters mostly stay the same between
 * collections (most processes sleep): each process keeps its last value per
 * slot with the field value and the JSON made of it, and reuses them while the
 * number is the same, instead of a new bigint, wrapper and string per field and point.
 */
export const RSS = 0, VMS = 1, THREADS = 2, VCS = 3, NVCS = 4, MINFLT = 5, MAJFLT = 6, CMINFLT = 7, CMAJFLT = 8, SYSCR = 9, SYSCW = 10, READ_BYTES = 11, WRITE_BYTES = 12, OPEN_FILES = 13, PID = 14, START_TIME = 15, STARTED = 16; // prettier-ignore
const SLOTS = 17;
/** Which slots are unsigned (`uint`); the others are signed (`int`). */
export const UNSIGNED = [true, true, false, false, false, true, true, true, true, true, true, true, true, false, false, false, false];

export class Values {
  readonly nums = new Float64Array(SLOTS).fill(NaN);
  readonly fields: FieldValue[] = new Array<FieldValue>(SLOTS);
  readonly json: (string | undefined)[] = new Array<string | undefined>(SLOTS);

  /** The field value of slot `k` for the number `n`. */
  field(k: number, n: number): FieldValue {
    if (this.nums[k] !== n) this.set(k, n);
    return this.fields[k]!;
  }

  /** The JSON text of slot `k` for the number `n` (the same digits as the field's). */
  text(k: number, n: number): string {
    if (this.nums[k] !== n) this.set(k, n);
    return (this.json[k] ??= UNSIGNED[k] ? uintJson(n) : intJson(n));
  }

  private set(k: number, n: number): void {
    this.nums[k] = n;
    this.fields[k] = UNSIGNED[k] ? uint(n) : int(n);
    this.json[k] = undefined;
  }
}

/** The figures objects and metrics share (DataKit's Parse()). */
function common(p: ProcInfo, memTotal: number, v: Values): Record<string, FieldValue> {
  const f: Record<string, FieldValue> = {
    rss: v.field(RSS, p.status.vmRss),
    vms: v.field(VMS, p.status.vmSize),
    mem_used_percent: memUsedPercent(p, memTotal),
    cpu_usage: p.cpuUsage,
    // DataKit's "average over the collection interval": the same figure as cpu_usage here
    cpu_usage_top: p.cpuUsage,
    threads: v.field(THREADS, p.stat.numThreads),
    voluntary_ctxt_switches: v.field(VCS, p.status.voluntaryCtxtSwitches),
    nonvoluntary_ctxt_switches: v.field(NVCS, p.status.nonvoluntaryCtxtSwitches),
    page_minor_faults: v.field(MINFLT, p.stat.minflt),
    page_major_faults: v.field(MAJFLT, p.stat.majflt),
    page_children_minor_faults: v.field(CMINFLT, p.stat.cminflt),
    page_children_major_faults: v.field(CMAJFLT, p.stat.cmajflt),
  };
  if (p.io) {
    f.proc_syscr = v.field(SYSCR, p.io.syscr);
    f.proc_syscw = v.field(SYSCW, p.io.syscw);
    f.proc_read_bytes = v.field(READ_BYTES, p.io.readBytes);
    f.proc_write_bytes = v.field(WRITE_BYTES, p.io.writeBytes);
  }
  if (p.openFiles !== undefined) f.open_files = v.field(OPEN_FILES, p.openFiles);
  return f;
}

export const memUsedPercent = (p: ProcInfo, memTotal: number) => (memTotal > 0 ? (100 * p.status.vmRss) / memTotal : 0);

function baseTags(p: ProcInfo): Record<string, string> {
  const t: Record<string, string> = { process_name: p.name, username: p.username };
  if (p.containerId !== '') t.container_id = p.containerId;
  return t;
}

/** The JSON of a process's strings in the message, as Go writes them (or that, escaped for a line-protocol string). */
export interface JsonSet {
  name: string;
  processName: string;
  username: string;
  containerId: string | undefined;
  cmdline: string;
}

/** A {@link JsonSet} escaped for a line-protocol string, as UTF-8 bytes (lines.ts writes them as they are). */
export interface JsonBytes {
  name: Buffer;
  processName: Buffer;
  username: Buffer;
  containerId: Buffer | undefined;
  cmdline: Buffer;
}

/**
 * A process's last line (lines.ts), kept to be copied as it is while every value
 * written in it stays the same: most processes sleep between collections, so
 * most lines repeat but for the time (and, in objects, started_duration).
 * `key` holds the numbers the line was written of; the other members what
 * else it was made of, by identity (the process's memo makes new ones when
 * its names, user, tags or command line change; the head also changes with
 * the added tags, of which the message's plan is made). A miss writes the
 * line anew.
 */
export interface LineMemo {
  key: Float64Array;
  head: Buffer;
  json: JsonBytes | undefined;
  state: string;
  cwd: string | undefined;
  /**
   * The line up to its time, in parts: an object's started_duration (its
   * field's digits and the message's) goes between them, a metric has one part.
   * Views of `store`, a buffer of the process's own (outside Buffer's shared
   * pool: a kept slice of it would hold its whole 8 KB slab), reused while
   * the line fits.
   */
  parts: Buffer[];
  store: Buffer;
}

/** What a process's points reuse between collections, valid while its `version` is the same. */
export interface Memo {
  version: number;
  /** Integer fields of the metric's and the object's points (each kind its own: they are read at different times). */
  metricValues?: Values;
  objectValues?: Values;
  metricTags?: Readonly<Record<string, string>>;
  objectTags?: Readonly<Record<string, string>>;
  objectState?: string;
  objectHost?: string;
  /** Go-escaped JSON of the tags and of the command line, for the message. */
  json?: JsonSet;
  /** `json` escaped for a line-protocol string, as UTF-8 bytes (lines.ts), and the `json` it was made of. */
  jsonLp?: JsonBytes;
  jsonLpOf?: JsonSet;
  /** The last working directory seen, its JSON, and (lines) that escaped and its field's text, as UTF-8 bytes. */
  cwd?: string;
  cwdJson?: string;
  cwdJsonLp?: Buffer | undefined;
  cwdField?: Buffer | undefined;
  /** The object line's measurement and tags (`host_processes,k=v,... `) as UTF-8 bytes, for which tags and added tags; its cmdline field's bytes. */
  lineHead?: Buffer;
  lineHeadTags?: object;
  lineHeadAdd?: string;
  cmdlineField?: Buffer;
  /** The metric line's measurement and tags as UTF-8 bytes, for which added tags (lines.ts). */
  metricLineHead?: Buffer;
  metricLineAdd?: string;
  /** The last object and metric lines, reused while every value written in them is the same (lines.ts). */
  objectLine?: LineMemo;
  metricLine?: LineMemo;
}
const memos = new WeakMap<ProcInfo, Memo>();

export function memoOf(p: ProcInfo): Memo {
  let m = memos.get(p);
  if (m === undefined || m.version !== p.version) {
    m = { version: p.version };
    memos.set(p, m);
  }
  return m;
}

/** Every tag and field an object may carry, plus gopsutil's `memory` and `cpu` (the message's keys besides the core's tags). */
const OBJECT_KEYS = [
  'name', 'process_name', 'username', 'state', 'container_id',
  'rss', 'vms', 'mem_used_percent', 'cpu_usage', 'cpu_usage_top', 'threads', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches',
  'page_minor_faults', 'page_major_faults', 'page_children_minor_faults', 'page_children_major_faults',
  'proc_syscr', 'proc_syscw', 'proc_read_bytes', 'proc_write_bytes', 'open_files',
  'listen_ports', 'state_zombie', 'pid', 'started_duration', 'start_time', 'work_directory', 'cmdline',
  'memory', 'cpu',
] as const;
export type ObjectKey = (typeof OBJECT_KEYS)[number];

/**
 * The message's keys in the order Go's encoding/json writes a map (sorted):
 * each with `"key":` and, for a key only the core's tags have, or the tag a
 * process's own tag or field overrides when it lacks one, that tag's JSON;
 * both also escaped for a line-protocol string, as UTF-8 bytes (lines.ts).
 */
export interface MessagePlan {
  steps: { key: ObjectKey | undefined; head: string; fallback: string | undefined; headLp: Buffer; fallbackLp: Buffer | undefined }[];
}

export function messagePlan(addTags: Readonly<Record<string, string>>): MessagePlan {
  const own = new Set<string>(OBJECT_KEYS);
  const keys = [...new Set([...Object.keys(addTags), ...OBJECT_KEYS])].sort();
  return {
    steps: keys.map((k) => {
      const head = goJson(k) + ':';
      const fallback = addTags[k] === undefined ? undefined : goJson(addTags[k]);
      return { key: own.has(k) ? (k as ObjectKey) : undefined, head, fallback, headLp: Buffer.from(lpEscape(head)), fallbackLp: fallback === undefined ? undefined : Buffer.from(lpEscape(fallback)) };
    }),
  };
}

/**
 * A string as the content of a line-protocol string field (`"` and `\` get a
 * backslash): what the core's quoteStr writes between the quotes. Escaping is
 * per character, so the message's escaped text is its escaped pieces joined.
 */
export const lpEscape = (s: string): string => (s.indexOf('"') < 0 && s.indexOf('\\') < 0 ? s : s.replace(LP_SPECIAL, '\\$&'));
const LP_SPECIAL = /["\\]/g;

/** Go's encoding/json escapes these (HTML-safe output); JSON.stringify does not. */
const GO_ESCAPES = /[<>&\u2028\u2029]/g;
const HAS_GO_ESCAPE = /[<>&\u2028\u2029]/;
const goEscape = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
/** A string as Go's encoding/json writes it. */
function goJson(s: string): string {
  const j = JSON.stringify(s);
  return HAS_GO_ESCAPE.test(j) ? j.replace(GO_ESCAPES, goEscape) : j;
}

/** A float field's JSON (as jsonValue of the field wrote it): NaN and infinities are null. */
const floatJson = (v: number) => (Number.isFinite(v) ? String(v) : 'null');
/** The decimal text of `int(n)` / `uint(n)` without making the bigint (exact below 2^53). */
function intJson(n: number): string {
  const t = Math.trunc(n);
  return Math.abs(t) < 2 ** 53 ? String(t === 0 ? 0 : t) : String(BigInt(t));
}
const uintJson = (n: number) => (Number.isFinite(n) && n > 0 ? intJson(n) : '0');

/** The JSON of one of the object's own keys for process `p`, or undefined when it has none (lines.ts writes it escaped). */
export function ownJson(k: ObjectKey, p: ProcInfo, m: Memo, j: JsonSet, v: Values, state: string, memTotal: number, now: number): string | undefined {
  const s = p.status;
  const st = p.stat;
  switch (k) {
    case 'name': return j.name;
    case 'process_name': return j.processName;
    case 'username': return j.username;
    case 'state': return stateJson(state);
    case 'container_id': return j.containerId;
    case 'rss': return v.text(RSS, s.vmRss);
    case 'vms': return v.text(VMS, s.vmSize);
    case 'mem_used_percent': return floatJson(memUsedPercent(p, memTotal));
    case 'cpu_usage':
    case 'cpu_usage_top': return floatJson(p.cpuUsage);
    case 'threads': return v.text(THREADS, st.numThreads);
    case 'voluntary_ctxt_switches': return v.text(VCS, s.voluntaryCtxtSwitches);
    case 'nonvoluntary_ctxt_switches': return v.text(NVCS, s.nonvoluntaryCtxtSwitches);
    case 'page_minor_faults': return v.text(MINFLT, st.minflt);
    case 'page_major_faults': return v.text(MAJFLT, st.majflt);
    case 'page_children_minor_faults': return v.text(CMINFLT, st.cminflt);
    case 'page_children_major_faults': return v.text(CMAJFLT, st.cmajflt);
    case 'proc_syscr': return p.io && v.text(SYSCR, p.io.syscr);
    case 'proc_syscw': return p.io && v.text(SYSCW, p.io.syscw);
    case 'proc_read_bytes': return p.io && v.text(READ_BYTES, p.io.readBytes);
    case 'proc_write_bytes': return p.io && v.text(WRITE_BYTES, p.io.writeBytes);
    case 'open_files': return p.openFiles === undefined ? undefined : v.text(OPEN_FILES, p.openFiles);
    case 'listen_ports': return p.listenPorts === undefined ? undefined : goJson(listenPortsText(p.listenPorts));
    case 'state_zombie': return state === 'zombie' ? 'true' : 'false';
    case 'pid': return v.text(PID, p.pid);
    case 'started_duration': return v.text(STARTED, Math.trunc(startedDuration(p, now)));
    case 'start_time': return v.text(START_TIME, p.startMs);
    case 'work_directory':
      if (p.cwd === undefined) return undefined;
      cwdSeen(m, p.cwd);
      return m.cwdJson;
    case 'cmdline': return j.cmdline;
    case 'memory': return `{"rss":${s.vmRss},"vms":${s.vmSize},"hwm":${s.vmHwm},"data":${s.vmData},"stack":${s.vmStk},"locked":${s.vmLck},"swap":${s.vmSwap}}`;
    case 'cpu': return `{"cpu":"cpu","user":${st.utime / HZ},"system":${st.stime / HZ},"idle":0,"nice":0,"iowait":${st.blkioTicks / HZ},"irq":0,"softirq":0,"steal":0,"guest":0,"guestNice":0}`;
  }
}

/** Keeps the working directory `cwd` and its JSON (the escaped forms are made when first asked for). */
export function cwdSeen(m: Memo, cwd: string): void {
  if (m.cwd === cwd) return;
  m.cwd = cwd;
  m.cwdJson = goJson(cwd);
  m.cwdJsonLp = undefined;
  m.cwdField = undefined;
}

/** DataKit's `message`: every step of the plan with the process's value or the core's tag (lines.ts writes the same text escaped, from bytes). */
export function message(plan: MessagePlan, p: ProcInfo, m: Memo, j: JsonSet, v: Values, state: string, memTotal: number, now: number): string {
  let msg = '{';
  for (const step of plan.steps) {
    const t = (step.key === undefined ? undefined : ownJson(step.key, p, m, j, v, state, memTotal, now)) ?? step.fallback;
    if (t === undefined) continue;
    if (msg.length > 1) msg += ',';
    msg += step.head + t;
  }
  return msg + '}';
}

const STATE_JSON = new Map(['running', 'sleep', 'blocked', 'idle', 'lock', 'stop', 'wait', 'zombie', ''].map((s) => [s, JSON.stringify(s)]));
/** The JSON of a state's name. */
export const stateJson = (state: string): string => STATE_JSON.get(state) ?? goJson(state);
/** DataKit's JSON of the ports (of an empty Go slice: null). */
export const listenPortsText = (ports: readonly number[]) => (ports.length ? JSON.stringify(ports) : 'null');
export const startedDuration = (p: ProcInfo, now: number) => Math.max(0, (now - p.startMs) / 1000);
export const objectCmdline = (p: ProcInfo) => (p.hasCmdline ? p.cmdline : `(${p.name})`);

/** A process's memo with its object tags and message JSON up to date for `hostname`; the state's name. */
export function objectMemo(p: ProcInfo, hostname: string): { m: Memo; state: string } {
  const m = memoOf(p);
  const state = stateName(p.stat.state);
  if (m.objectTags === undefined || m.objectState !== state || m.objectHost !== hostname) {
    const tags = baseTags(p);
    tags.name = `${hostname}_${p.pid}`;
    tags.state = state;
    m.objectTags = Object.freeze(tags);
    m.objectState = state;
    if (m.objectHost !== hostname) m.json = undefined;
    m.objectHost = hostname;
  }
  m.json ??= {
    name: goJson(`${hostname}_${p.pid}`),
    processName: goJson(p.name),
    username: goJson(p.username),
    containerId: p.containerId === '' ? undefined : goJson(p.containerId),
    cmdline: goJson(objectCmdline(p)),
  };
  m.objectValues ??= new Values();
  return { m, state };
}

/**
 * The object. `plan` is {@link messagePlan} of the tags the core will add
 * (input tags, then the global host tags): DataKit's `message` repeats every
 * tag and field of the point for full-text search, plus gopsutil's `memory`
 * and `cpu` structures, as JSON with sorted keys (written here directly:
 * building and sorting an object per process cost more than the rest of the point).
 */
export function objectPoint(p: ProcInfo, hostname: string, memTotal: number, now: number, time: bigint, plan: MessagePlan): Point {
  const { m, state } = objectMemo(p, hostname);
  const v = m.objectValues!;
  const fields = common(p, memTotal, v);
  if (p.listenPorts !== undefined) fields.listen_ports = listenPortsText(p.listenPorts);
  fields.state_zombie = state === 'zombie';
  fields.pid = v.field(PID, p.pid);
  fields.started_duration = v.field(STARTED, Math.trunc(startedDuration(p, now)));
  fields.start_time = v.field(START_TIME, p.startMs);
  if (p.cwd !== undefined) fields.work_directory = p.cwd;
  fields.cmdline = objectCmdline(p);
  const msg = message(plan, p, m, m.json!, v, state, memTotal, now);
  msg.charCodeAt(0); // flattens the 60 concatenations into one string now, while it is young
  fields.message = msg;
  return { category: 'object', name: MEASUREMENT, tags: m.objectTags!, fields, time };
}

/** The metric: the shared figures, with pid and cmdline as tags (DataKit's choice). */
export function metricPoint(p: ProcInfo, memTotal: number, time: bigint): Point {
  const m = memoOf(p);
  return { category: 'metric', name: MEASUREMENT, tags: metricTags(p, m), fields: common(p, memTotal, (m.metricValues ??= new Values())), time };
}

/** The metric's tags, one frozen object per process (and version). */
export function metricTags(p: ProcInfo, m: Memo): Readonly<Record<string, string>> {
  if (m.metricTags === undefined) {
    const tags = baseTags(p);
    tags.pid = String(p.pid);
    tags.cmdline = p.cmdline;
    m.metricTags = Object.freeze(tags);
  }
  return m.metricTags;
}
