/**
 * Pure parsers for the /proc files the host inputs read. Each takes the file's
 * text and returns plain numbers; reading files is left to the caller, so the
 * parsers are tested with fixtures and the inputs with the machine's real /proc.
 */

/** One `cpu*` line of /proc/stat, in USER_HZ ticks. */
export interface CpuTimes {
  cpu: string;
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  guest: number;
  guestNice: number;
}

export interface ProcStat {
  /** `cpu-total` first, then `cpu0`, `cpu1`, ... */
  cpus: CpuTimes[];
  /** Boot time, seconds since the epoch. */
  btime: number;
  processes: number;
  procsRunning: number;
  ctxt: number;
}

export function parseProcStat(text: string): ProcStat {
  const out: ProcStat = { cpus: [], btime: 0, processes: 0, procsRunning: 0, ctxt: 0 };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const key = f[0];
    if (key === undefined || key === '') continue;
    if (key.startsWith('cpu')) {
      const n = f.slice(1).map(Number);
      out.cpus.push({
        cpu: key === 'cpu' ? 'cpu-total' : key,
        user: n[0] ?? 0,
        nice: n[1] ?? 0,
        system: n[2] ?? 0,
        idle: n[3] ?? 0,
        iowait: n[4] ?? 0,
        irq: n[5] ?? 0,
        softirq: n[6] ?? 0,
        steal: n[7] ?? 0,
        guest: n[8] ?? 0,
        guestNice: n[9] ?? 0,
      });
    } else if (key === 'btime') out.btime = Number(f[1]);
    else if (key === 'processes') out.processes = Number(f[1]);
    else if (key === 'procs_running') out.procsRunning = Number(f[1]);
    else if (key === 'ctxt') out.ctxt = Number(f[1]);
  }
  return out;
}

/**
 * Total ticks. Linux counts guest time inside user (and guest_nice inside
 * nice), so guest columns are not added again.
 */
export function cpuTotal(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
}

export interface CpuUsage {
  usage_user: number;
  usage_nice: number;
  usage_system: number;
  usage_idle: number;
  usage_iowait: number;
  usage_irq: number;
  usage_softirq: number;
  usage_steal: number;
  usage_guest: number;
  usage_guest_nice: number;
  usage_total: number;
}

const clampPct = (x: number) => (x < 0 ? 0 : x > 100 ? 100 : x);

/**
 * Percentages over the interval between two samples of the same CPU.
 * Returns undefined when no time passed or the counters went backwards
 * (a CPU hot-unplugged and re-plugged).
 */
export function cpuUsage(prev: CpuTimes, cur: CpuTimes): CpuUsage | undefined {
  const dt = cpuTotal(cur) - cpuTotal(prev);
  if (!(dt > 0)) return undefined;
  const pct = (a: number, b: number) => clampPct((100 * (a - b)) / dt);
  const idle = pct(cur.idle, prev.idle);
  return {
    usage_user: pct(cur.user, prev.user),
    usage_nice: pct(cur.nice, prev.nice),
    usage_system: pct(cur.system, prev.system),
    usage_idle: idle,
    usage_iowait: pct(cur.iowait, prev.iowait),
    usage_irq: pct(cur.irq, prev.irq),
    usage_softirq: pct(cur.softirq, prev.softirq),
    usage_steal: pct(cur.steal, prev.steal),
    usage_guest: pct(cur.guest, prev.guest),
    usage_guest_nice: pct(cur.guestNice, prev.guestNice),
    usage_total: clampPct(100 - idle),
  };
}

/** /proc/meminfo as bytes (kB values × 1024; HugePages_* counts stay counts). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(\s+kB)?/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (m[3] ? 1024 : 1);
  }
  return out;
}

export interface MemStat {
  total: number;
  available: number;
  used: number;
  free: number;
  buffers: number;
  /** Page cache plus reclaimable slab, as `free` and gopsutil count it. */
  cached: number;
  usedPercent: number;
  availablePercent: number;
}

/** Derives used/available the way gopsutil (and so DataKit) does. */
export function memStat(mi: Record<string, number>): MemStat {
  const total = mi.MemTotal ?? 0;
  const free = mi.MemFree ?? 0;
  const buffers = mi.Buffers ?? 0;
  const cached = (mi.Cached ?? 0) + (mi.SReclaimable ?? 0);
  const available = mi.MemAvailable ?? free + buffers + cached;
  let used = total - free - buffers - cached;
  if (used < 0) used = total - free;
  return {
    total,
    available,
    used,
    free,
    buffers,
    cached,
    usedPercent: total > 0 ? (100 * used) / total : 0,
    availablePercent: total > 0 ? (100 * available) / total : 0,
  };
}

/** `key value` lines (/proc/vmstat). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

export interface DiskStat {
  major: number;
  minor: number;
  name: string;
  reads: number;
  mergedReads: number;
  sectorsRead: number;
  readTime: number;
  writes: number;
  mergedWrites: number;
  sectorsWritten: number;
  writeTime: number;
  iopsInProgress: number;
  ioTime: number;
  weightedIoTime: number;
}

/** /proc/diskstats (kernel Documentation/admin-guide/iostats.rst). Sectors are 512 bytes. */
export function parseDiskstats(text: string): DiskStat[] {
  const out: DiskStat[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = (i: number) => Number(f[i]);
    out.push({
      major: n(0),
      minor: n(1),
      name: f[2]!,
      reads: n(3),
      mergedReads: n(4),
      sectorsRead: n(5),
      readTime: n(6),
      writes: n(7),
      mergedWrites: n(8),
      sectorsWritten: n(9),
      writeTime: n(10),
      iopsInProgress: n(11),
      ioTime: n(12),
      weightedIoTime: n(13),
    });
  }
  return out;
}

export interface NetDevStat {
  name: string;
  bytesRecv: number;
  packetsRecv: number;
  errIn: number;
  dropIn: number;
  bytesSent: number;
  packetsSent: number;
  errOut: number;
  dropOut: number;
}

/** /proc/net/dev: two header lines, then `iface: 8 receive columns, 8 transmit columns`. */
export function parseNetDev(text: string): NetDevStat[] {
  const out: NetDevStat[] = [];
  for (const line of text.split('\n')) {
    const c = line.indexOf(':');
    if (c < 0) continue;
    const name = line.slice(0, c).trim();
    const f = line.slice(c + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || name === '') continue;
    out.push({
      name,
      bytesRecv: f[0]!,
      packetsRecv: f[1]!,
      errIn: f[2]!,
      dropIn: f[3]!,
      bytesSent: f[8]!,
      packetsSent: f[9]!,
      errOut: f[10]!,
      dropOut: f[11]!,
    });
  }
  return out;
}

/** /proc/net/snmp: pairs of `Proto: names...` / `Proto: values...` lines. */
export function parseNetSnmp(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const h = lines[i]!.split(/\s+/).filter(Boolean);
    const v = lines[i + 1]!.split(/\s+/).filter(Boolean);
    const proto = h[0]?.replace(/:$/, '');
    if (!proto || v[0] !== h[0]) continue;
    const rec: Record<string, number> = {};
    for (let j = 1; j < h.length; j++) rec[h[j]!] = Number(v[j]);
    out[proto] = rec;
  }
  return out;
}

export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
  running: number;
  threads: number;
}

export function parseLoadavg(text: string): LoadAvg {
  const f = text.trim().split(/\s+/);
  const [running, threads] = (f[3] ?? '0/0').split('/').map(Number);
  return { load1: Number(f[0]), load5: Number(f[1]), load15: Number(f[2]), running: running ?? 0, threads: threads ?? 0 };
}

export interface Mount {
  device: string;
  mountPoint: string;
  fstype: string;
  options: string[];
  /** `major:minor` of the mounted filesystem. */
  devId: string;
}

/** Undoes the octal escapes (\040 for space) mountinfo uses in paths. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * /proc/<pid>/mountinfo: `id parent major:minor root mountpoint options
 * [optional...] - fstype source superoptions`.
 */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || f.length < sep + 3) continue; // fstype and source follow the separator
    out.push({
      devId: f[2]!,
      mountPoint: unescapeMount(f[4]!),
      options: f[5]!.split(','),
      fstype: f[sep + 1]!,
      device: unescapeMount(f[sep + 2]!),
    });
  }
  return out;
}

/** Filesystem types that need a block device (the lines of /proc/filesystems without `nodev`). */
export function parseFilesystems(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 1 && f[0]) out.add(f[0]);
  }
  return out;
}

/** /proc/net/stat/nf_conntrack: a header and one line of hex counters per CPU; returns the sums. */
export function parseConntrackStat(text: string): Record<string, number> {
  const lines = text.trim().split('\n');
  const head = lines[0]?.trim().split(/\s+/) ?? [];
  const out: Record<string, number> = {};
  for (const h of head) out[h] = 0;
  for (const line of lines.slice(1)) {
    const v = line.trim().split(/\s+/);
    head.forEach((h, i) => {
      if (h !== 'entries') out[h]! += parseInt(v[i] ?? '0', 16) || 0;
      else out[h] = parseInt(v[i] ?? '0', 16) || 0;
    });
  }
  return out;
}

/** udev's database entry (`/run/udev/data/b<major>:<minor>`): the `E:KEY=value` properties. */
export function parseUdevData(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('E:')) continue;
    const i = line.indexOf('=');
    if (i > 2) out[line.slice(2, i)] = line.slice(i + 1);
  }
  return out;
}

/** Counts USER_PROCESS records in a utmp file (glibc x86_64/aarch64 layout: 384-byte records, ut_type first). */
export function countUtmpUsers(buf: Buffer): number {
  const REC = 384;
  const USER_PROCESS = 7;
  let n = 0;
  for (let off = 0; off + REC <= buf.length; off += REC) if (buf.readInt32LE(off) === USER_PROCESS) n++;
  return n;
}
