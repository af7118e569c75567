/**
 * host_processes' points as the lines the core would write of them, for
 * sinks that take line protocol as it is (the dataway's default v1 body):
 * no point, no fields object, and the object's message is written escaped
 * from pieces each process keeps escaped (points.ts), instead of being
 * escaped whole at every collection. A test pins each line to the core's
 * encoding of the same point, byte for byte.
 */
import { escapeName, quoteStr, tagTextOf } from '../../agent/model/lineproto.js';
import type { ProcInfo } from './proc.js';
import {
  CMAJFLT, CMINFLT, cwdSeen, listenPortsText, MAJFLT, MEASUREMENT, memoOf, memUsedPercent, message, metricTags, MINFLT, NVCS, objectCmdline, objectMemo, OPEN_FILES, PID,
  READ_BYTES, RSS, START_TIME, STARTED, startedDuration, SYSCR, SYSCW, THREADS, UNSIGNED, Values, VCS, VMS, WRITE_BYTES, lpEscape, type MessagePlan,
} from './points.js';

/** The tags the core adds to an object ({@link objectLine}): by key, and a text that changes whenever they do. */
export interface AddedTags {
  tags: Readonly<Record<string, string>>;
  key: string;
}

export const addedTags = (tags: Readonly<Record<string, string>>): AddedTags => ({ tags, key: JSON.stringify(Object.entries(tags)) });

const numText = (v: Values, k: number, n: number) => v.text(k, n) + (UNSIGNED[k] ? 'u' : 'i');
/** A float field: left out of the line when it is not finite (the core's rule). */
const floatField = (key: string, n: number) => (Number.isFinite(n) ? `,${key}=${n}` : '');

/** The line's measurement and tags (`host_processes,k=v,... `): the point's `tags` with `add` for the keys it lacks (running-input.ts). */
const head = (tags: Readonly<Record<string, string>>, add: AddedTags): string => {
  const t: Record<string, string> = { ...tags };
  for (const k in add.tags) if (t[k] === undefined) t[k] = add.tags[k]!;
  return escapeName(MEASUREMENT) + tagTextOf(t) + ' ';
};

/** The fields objects and metrics share (points.ts's common()), from `rss=` on. */
function commonText(p: ProcInfo, memTotal: number, v: Values): string {
  const s = p.status;
  const st = p.stat;
  let line = 'rss=' + numText(v, RSS, s.vmRss) + ',vms=' + numText(v, VMS, s.vmSize) + floatField('mem_used_percent', memUsedPercent(p, memTotal)) + floatField('cpu_usage', p.cpuUsage) + floatField('cpu_usage_top', p.cpuUsage);
  line += ',threads=' + numText(v, THREADS, st.numThreads) + ',voluntary_ctxt_switches=' + numText(v, VCS, s.voluntaryCtxtSwitches) + ',nonvoluntary_ctxt_switches=' + numText(v, NVCS, s.nonvoluntaryCtxtSwitches);
  line += ',page_minor_faults=' + numText(v, MINFLT, st.minflt) + ',page_major_faults=' + numText(v, MAJFLT, st.majflt) + ',page_children_minor_faults=' + numText(v, CMINFLT, st.cminflt) + ',page_children_major_faults=' + numText(v, CMAJFLT, st.cmajflt);
  if (p.io) line += ',proc_syscr=' + numText(v, SYSCR, p.io.syscr) + ',proc_syscw=' + numText(v, SYSCW, p.io.syscw) + ',proc_read_bytes=' + numText(v, READ_BYTES, p.io.readBytes) + ',proc_write_bytes=' + numText(v, WRITE_BYTES, p.io.writeBytes);
  if (p.openFiles !== undefined) line += ',open_files=' + numText(v, OPEN_FILES, p.openFiles);
  return line;
}

/**
 * The object as the line the core would write of {@link objectPoint}'s point
 * once it added `add` (the input's and the global tags, to the keys the
 * point lacks), without its newline; `time` is the point's time as text. For
 * sinks that take line protocol as it is (the dataway's default v1 body):
 * no point, no fields object, and the message is written escaped from pieces
 * each process keeps escaped, instead of being escaped whole every collection.
 */
export function objectLine(p: ProcInfo, hostname: string, memTotal: number, now: number, time: string, plan: MessagePlan, add: AddedTags): string {
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
    m.jsonLp = { name: lpEscape(json.name), processName: lpEscape(json.processName), username: lpEscape(json.username), containerId: json.containerId === undefined ? undefined : lpEscape(json.containerId), cmdline: lpEscape(json.cmdline) };
    m.cmdlineField = quoteStr(objectCmdline(p));
  }
  let line = m.lineHead + commonText(p, memTotal, v);
  if (p.listenPorts !== undefined) line += ',listen_ports=' + quoteStr(listenPortsText(p.listenPorts));
  line += (state === 'zombie' ? ',state_zombie=true,pid=' : ',state_zombie=false,pid=') + numText(v, PID, p.pid) + ',started_duration=' + numText(v, STARTED, Math.trunc(startedDuration(p, now))) + ',start_time=' + numText(v, START_TIME, p.startMs);
  if (p.cwd !== undefined) {
    cwdSeen(m, p.cwd);
    line += ',work_directory=' + (m.cwdField ??= quoteStr(p.cwd));
  }
  return line + ',cmdline=' + m.cmdlineField + ',message="' + message(plan, p, m, m.jsonLp!, v, state, memTotal, now, true) + '" ' + time;
}

/** The metric as the line the core would write of {@link metricPoint}'s point once it added `add`, without its newline. */
export function metricLine(p: ProcInfo, memTotal: number, time: string, add: AddedTags): string {
  const m = memoOf(p);
  if (m.metricLineHead === undefined || m.metricLineAdd !== add.key) {
    m.metricLineHead = head(metricTags(p, m), add);
    m.metricLineAdd = add.key;
  }
  return m.metricLineHead + commonText(p, memTotal, (m.metricValues ??= new Values())) + ' ' + time;
}
