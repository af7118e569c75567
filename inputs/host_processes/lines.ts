/**
 * host_processes' points as the lines the core would write of them, for
 * sinks that take line protocol as it is (the dataway's default v1 body):
 * no point, no fields object, no string per line. Each line is written
 * straight into the collection's buffer: the parts a process keeps (the
 * line's head, the message's escaped names, user, command line and working
 * directory) as UTF-8 bytes, numbers as digits, the rest as ASCII text — a
 * line built as a string of ~100 pieces cost more to concatenate and to
 * flatten for its UTF-8 encoding than the bytes themselves. A test pins
 * each line to the core's encoding of the same point, byte for byte.
 */
import { escapeName, quoteStr, tagTextOf } from '../../agent/model/lineproto.js';
import type { LineBuf } from '../../agent/model/linebuf.js';
import type { ProcInfo } from './proc.js';
import {
  CMAJFLT, CMINFLT, cwdSeen, listenPortsText, lpEscape, MAJFLT, MEASUREMENT, memoOf, memUsedPercent, metricTags, MINFLT, NVCS, objectCmdline, objectMemo,
  ownJson as ownJsonText, OPEN_FILES, PID, READ_BYTES, RSS, START_TIME, STARTED, startedDuration, stateJson, SYSCR, SYSCW, THREADS, UNSIGNED, Values, VCS, VMS, WRITE_BYTES,
  type JsonBytes, type LineMemo, type Memo, type MessagePlan, type ObjectKey,
} from './points.js';

/** The tags the core adds to an object ({@link objectLine}): by key, and a text that changes whenever they do. */
export interface AddedTags {
  tags: Readonly<Record<string, string>>;
  key: string;
}

export const addedTags = (tags: Readonly<Record<string, string>>): AddedTags => ({ tags, key: JSON.stringify(Object.entries(tags)) });

/**
 * Keeps the line just written to `w` in the process's memo (`old`, or a
 * new one): its parts are `w.data[ranges[0], ranges[1])`, `[ranges[2], ranges[3])`, ...
 */
function keep(old: LineMemo | undefined, w: LineBuf, n: number, head: Buffer, json: JsonBytes | undefined, state: string, cwd: string | undefined, ranges: number[]): LineMemo {
  let size = 0;
  for (let i = 0; i < ranges.length; i += 2) size += ranges[i + 1]! - ranges[i]!;
  const store = old !== undefined && old.store.length >= size ? old.store : Buffer.allocUnsafeSlow(size);
  const parts: Buffer[] = [];
  for (let i = 0, o = 0; i < ranges.length; i += 2) {
    const len = w.data.copy(store, o, ranges[i], ranges[i + 1]);
    parts.push(store.subarray(o, o + len));
    o += len;
  }
  const key = old?.key ?? new Float64Array(n);
  for (let i = 0; i < n; i++) key[i] = cur[i]!;
  return { key, head, json, state, cwd, parts, store };
}

/** The numbers a metric line is written of, in {@link cur}'s first slots; an object's are all of them. */
const KEY_METRIC = 17;
const KEY_OBJECT = 27;
/** The numbers of the line being written. */
const cur = new Float64Array(KEY_OBJECT);

/** Puts the numbers `p`'s line is written of into {@link cur}; returns how many. */
function fillKey(p: ProcInfo, memTotal: number, object: boolean): number {
  const s = p.status;
  const st = p.stat;
  const io = p.io;
  cur[0] = s.vmRss;
  cur[1] = s.vmSize;
  cur[2] = memTotal;
  cur[3] = p.cpuUsage;
  cur[4] = st.numThreads;
  cur[5] = s.voluntaryCtxtSwitches;
  cur[6] = s.nonvoluntaryCtxtSwitches;
  cur[7] = st.minflt;
  cur[8] = st.majflt;
  cur[9] = st.cminflt;
  cur[10] = st.cmajflt;
  cur[11] = io ? 1 : 0;
  cur[12] = io ? io.syscr : 0;
  cur[13] = io ? io.syscw : 0;
  cur[14] = io ? io.readBytes : 0;
  cur[15] = io ? io.writeBytes : 0;
  cur[16] = p.openFiles ?? -1;
  if (!object) return KEY_METRIC;
  cur[17] = p.pid;
  cur[18] = p.startMs;
  cur[19] = s.vmHwm;
  cur[20] = s.vmData;
  cur[21] = s.vmStk;
  cur[22] = s.vmLck;
  cur[23] = s.vmSwap;
  cur[24] = st.utime;
  cur[25] = st.stime;
  cur[26] = st.blkioTicks;
  return KEY_OBJECT;
}

/** Whether `key` holds the numbers in {@link cur} (NaN never does: such a line is written anew). */
function sameKey(key: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (key[i] !== cur[i]) return false;
  return true;
}

/** Where the message's started_duration digits were written (ownJson() sets them). */
let startedAt = -1;
let startedEnd = -1;

/** Bytes up to this long are copied by a loop (cheaper than a native copy's call). */
const SHORT_BYTES = 48;
const bytes = (w: LineBuf, b: Buffer): void => (b.length <= SHORT_BYTES ? w.appendSmall(b) : w.appendBytes(b));
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** An integer field (`key` as `,name=`, its digits and its type letter `u` or `i`): the text of the point's field. */
function num(w: LineBuf, key: string, v: Values, k: number, n: number): void {
  w.appendAscii(key);
  w.appendAscii(v.text(k, n));
  w.appendAscii(UNSIGNED[k] ? 'u' : 'i');
}

/** A float field (`,key=` and its number): left out of the line when it is not finite (the core's rule). */
function float(w: LineBuf, key: string, n: number): void {
  if (!Number.isFinite(n)) return;
  w.appendAscii(key);
  w.appendAscii(String(n));
}

/** The line's measurement and tags (`host_processes,k=v,... `): the point's `tags` with `add` for the keys it lacks (running-input.ts). */
const head = (tags: Readonly<Record<string, string>>, add: AddedTags): Buffer => {
  const t: Record<string, string> = { ...tags };
  for (const k in add.tags) if (t[k] === undefined) t[k] = add.tags[k]!;
  return utf8(escapeName(MEASUREMENT) + tagTextOf(t) + ' ');
};

/** The fields objects and metrics share (points.ts's common()), from `rss=` on. */
function common(w: LineBuf, p: ProcInfo, memTotal: number, v: Values): void {
  const s = p.status;
  const st = p.stat;
  num(w, 'rss=', v, RSS, s.vmRss);
  num(w, ',vms=', v, VMS, s.vmSize);
  float(w, ',mem_used_percent=', memUsedPercent(p, memTotal));
  float(w, ',cpu_usage=', p.cpuUsage);
  float(w, ',cpu_usage_top=', p.cpuUsage);
  num(w, ',threads=', v, THREADS, st.numThreads);
  num(w, ',voluntary_ctxt_switches=', v, VCS, s.voluntaryCtxtSwitches);
  num(w, ',nonvoluntary_ctxt_switches=', v, NVCS, s.nonvoluntaryCtxtSwitches);
  num(w, ',page_minor_faults=', v, MINFLT, st.minflt);
  num(w, ',page_major_faults=', v, MAJFLT, st.majflt);
  num(w, ',page_children_minor_faults=', v, CMINFLT, st.cminflt);
  num(w, ',page_children_major_faults=', v, CMAJFLT, st.cmajflt);
  const io = p.io;
  if (io) {
    num(w, ',proc_syscr=', v, SYSCR, io.syscr);
    num(w, ',proc_syscw=', v, SYSCW, io.syscw);
    num(w, ',proc_read_bytes=', v, READ_BYTES, io.readBytes);
    num(w, ',proc_write_bytes=', v, WRITE_BYTES, io.writeBytes);
  }
  if (p.openFiles !== undefined) {
    num(w, ',open_files=', v, OPEN_FILES, p.openFiles);
  }
}

/** The escaped JSON of a state's name (a handful of states: kept by name). */
const STATE_LP = new Map<string, Buffer>();
const stateLp = (state: string): Buffer => {
  let b = STATE_LP.get(state);
  if (b === undefined) {
    b = utf8(lpEscape(stateJson(state)));
    if (STATE_LP.size < 64) STATE_LP.set(state, b);
  }
  return b;
};

/**
 * The JSON of one of the object's own keys for process `p` escaped for a
 * line-protocol string, written to `w`; false, writing nothing, when the
 * process has no such key. The strings a process keeps as escaped bytes are
 * written from them, started_duration's place is noted for the line's reuse;
 * every other key's text is points.ts's ownJson() (numbers and booleans need
 * no escaping; `memory`, `cpu` and `listen_ports` hold quotes).
 */
function ownJson(w: LineBuf, k: ObjectKey, p: ProcInfo, m: Memo, j: JsonBytes, v: Values, state: string, memTotal: number, now: number): boolean {
  switch (k) {
    case 'name': bytes(w, j.name); return true;
    case 'process_name': bytes(w, j.processName); return true;
    case 'username': bytes(w, j.username); return true;
    case 'state': bytes(w, stateLp(state)); return true;
    case 'container_id':
      if (j.containerId === undefined) return false;
      bytes(w, j.containerId);
      return true;
    case 'cmdline': bytes(w, j.cmdline); return true;
    case 'work_directory':
      if (p.cwd === undefined) return false;
      cwdSeen(m, p.cwd);
      bytes(w, (m.cwdJsonLp ??= utf8(lpEscape(m.cwdJson!))));
      return true;
    case 'started_duration':
      startedAt = w.off;
      w.appendAscii(v.text(STARTED, Math.trunc(startedDuration(p, now))));
      startedEnd = w.off;
      return true;
  }
  const t = ownJsonText(k, p, m, m.json!, v, state, memTotal, now);
  if (t === undefined) return false;
  w.appendAscii(k === 'memory' || k === 'cpu' || k === 'listen_ports' ? lpEscape(t) : t);
  return true;
}

/** DataKit's `message` escaped for a line-protocol string (points.ts's message()), written to `w`. */
function message(w: LineBuf, plan: MessagePlan, p: ProcInfo, m: Memo, j: JsonBytes, v: Values, state: string, memTotal: number, now: number): void {
  w.appendAscii('{');
  let first = true;
  for (const step of plan.steps) {
    const at = w.off;
    if (!first) w.appendAscii(',');
    bytes(w, step.headLp);
    if (step.key !== undefined && ownJson(w, step.key, p, m, j, v, state, memTotal, now)) {
      first = false;
      continue;
    }
    if (step.fallbackLp === undefined) {
      w.off = at; // neither the process nor the core's tags have the key: its head is taken back
      continue;
    }
    bytes(w, step.fallbackLp);
    first = false;
  }
  w.appendAscii('}');
}

/**
 * The object as the line the core would write of {@link objectPoint}'s point
 * once it added `add` (the input's and the global tags, to the keys the
 * point lacks), written to `w` without its newline; `time` is the point's
 * time as text.
 */
export function objectLine(w: LineBuf, p: ProcInfo, hostname: string, memTotal: number, now: number, time: string, plan: MessagePlan, add: AddedTags): void {
  const { m, state } = objectMemo(p, hostname);
  const v = m.objectValues!;
  if (m.lineHead === undefined || m.lineHeadTags !== m.objectTags || m.lineHeadAdd !== add.key) {
    m.lineHead = head(m.objectTags!, add);
    m.lineHeadTags = m.objectTags;
    m.lineHeadAdd = add.key;
  }
  const json = m.json!;
  if (m.jsonLpOf !== json) {
    m.jsonLpOf = json;
    const lp = (s: string) => utf8(lpEscape(s));
    m.jsonLp = { name: lp(json.name), processName: lp(json.processName), username: lp(json.username), containerId: json.containerId === undefined ? undefined : lp(json.containerId), cmdline: lp(json.cmdline) };
    m.cmdlineField = utf8(quoteStr(objectCmdline(p)));
  }
  const started = v.text(STARTED, Math.trunc(startedDuration(p, now)));
  const n = fillKey(p, memTotal, true);
  const lm = m.objectLine;
  if (lm !== undefined && lm.head === m.lineHead && lm.json === m.jsonLp && lm.state === state && lm.cwd === p.cwd && p.listenPorts === undefined && sameKey(lm.key, n)) {
    bytes(w, lm.parts[0]!);
    w.appendAscii(started);
    bytes(w, lm.parts[1]!);
    w.appendAscii(started);
    bytes(w, lm.parts[2]!);
    w.appendAscii(time);
    return;
  }
  const start = w.off;
  bytes(w, m.lineHead);
  common(w, p, memTotal, v);
  if (p.listenPorts !== undefined) {
    w.appendAscii(',listen_ports=');
    w.appendText(quoteStr(listenPortsText(p.listenPorts)));
  }
  num(w, state === 'zombie' ? ',state_zombie=true,pid=' : ',state_zombie=false,pid=', v, PID, p.pid);
  w.appendAscii(',started_duration=');
  const fieldAt = w.off;
  w.appendAscii(started);
  const fieldEnd = w.off;
  num(w, 'i,start_time=', v, START_TIME, p.startMs);
  if (p.cwd !== undefined) {
    cwdSeen(m, p.cwd);
    w.appendAscii(',work_directory=');
    bytes(w, (m.cwdField ??= utf8(quoteStr(p.cwd))));
  }
  w.appendAscii(',cmdline=');
  bytes(w, m.cmdlineField!);
  w.appendAscii(',message="');
  startedAt = startedEnd = -1;
  message(w, plan, p, m, m.jsonLp!, v, state, memTotal, now);
  w.appendAscii('" ');
  if (p.listenPorts === undefined && startedAt > fieldEnd) {
    m.objectLine = keep(lm, w, n, m.lineHead, m.jsonLp, state, p.cwd, [start, fieldAt, fieldEnd, startedAt, startedEnd, w.off]);
  }
  w.appendAscii(time);
}

/** The metric as the line the core would write of {@link metricPoint}'s point once it added `add`, written to `w` without its newline. */
export function metricLine(w: LineBuf, p: ProcInfo, memTotal: number, time: string, add: AddedTags): void {
  const m = memoOf(p);
  if (m.metricLineHead === undefined || m.metricLineAdd !== add.key) {
    m.metricLineHead = head(metricTags(p, m), add);
    m.metricLineAdd = add.key;
  }
  const n = fillKey(p, memTotal, false);
  const lm = m.metricLine;
  if (lm !== undefined && lm.head === m.metricLineHead && sameKey(lm.key, n)) {
    bytes(w, lm.parts[0]!);
  } else {
    const start = w.off;
    bytes(w, m.metricLineHead);
    common(w, p, memTotal, (m.metricValues ??= new Values()));
    w.appendAscii(' ');
    m.metricLine = keep(lm, w, n, m.metricLineHead, undefined, '', undefined, [start, w.off]);
  }
  w.appendAscii(time);
}
