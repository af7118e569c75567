/**
 * Pure parsers for the per-process files of /proc (proc(5)) and the host's
 * /etc/passwd. Each takes the file's text and returns plain values, or
 * undefined when the text is not what the kernel writes; none throws.
 */

/** The parts of /proc/<pid>/stat host_processes uses. Times are USER_HZ ticks. */
export interface PidStat {
  /** `comm`: up to 15 bytes of the executable's name; may hold spaces and parentheses. */
  comm: string;
  /** One letter: R S D Z T t W X I ... */
  state: string;
  ppid: number;
  minflt: number;
  cminflt: number;
  majflt: number;
  cmajflt: number;
  utime: number;
  stime: number;
  numThreads: number;
  /** Ticks after boot. */
  starttime: number;
  /** Bytes. */
  vsize: number;
  /** Pages. */
  rss: number;
  /** Aggregated block I/O delays (field 42), ticks; 0 when absent. */
  blkioTicks: number;
}

/**
 * `pid (comm) state ppid ...`. The name sits between the first `(` and the
 * LAST `)`, since a process may call itself `a) (b`; the fields after it are
 * space-separated numbers (proc(5)). Returns undefined on a truncated or
 * malformed line.
 */
export function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open || text.charCodeAt(close + 1) !== 32) return undefined;
  // fields after the name, by position (0 = state, field 3 of proc(5)); only those read are sliced
  const want = STAT_FIELDS;
  const vals = new Array<number>(want.length).fill(NaN);
  let state = '';
  let field = 0;
  let w = 0;
  let i = close + 2;
  const end = text.length;
  while (i <= end && w < want.length) {
    let j = text.indexOf(' ', i);
    if (j < 0) j = end;
    if (field === 0) state = text.slice(i, j);
    else if (field === want[w]) vals[w++] = Number(text.slice(i, j));
    field++;
    i = j + 1;
  }
  // state (field 3) .. rss (field 24) must all be there
  if (field < 22 || state.length !== 1) return undefined;
  const [ppid, minflt, cminflt, majflt, cmajflt, utime, stime, numThreads, starttime, vsize, rss, blkio] = vals as [number, number, number, number, number, number, number, number, number, number, number, number];
  if (Number.isNaN(utime) || Number.isNaN(stime) || Number.isNaN(starttime) || Number.isNaN(numThreads)) return undefined;
  return { comm: text.slice(open + 1, close), state, ppid, minflt, cminflt, majflt, cmajflt, utime, stime, numThreads, starttime, vsize, rss, blkioTicks: blkio || 0 };
}

/** Positions (after the name; 0 = state) of ppid, minflt, cminflt, majflt, cmajflt, utime, stime, num_threads, starttime, vsize, rss, delayacct_blkio_ticks. */
const STAT_FIELDS = [1, 7, 8, 9, 10, 11, 12, 17, 19, 20, 21, 39];

/** The parts of /proc/<pid>/status read here (sizes in bytes). */
export interface PidStatus {
  /** Real, effective, saved and filesystem uid. */
  uid: number;
  voluntaryCtxtSwitches: number;
  nonvoluntaryCtxtSwitches: number;
  vmRss: number;
  vmSize: number;
  vmHwm: number;
  vmData: number;
  vmStk: number;
  vmLck: number;
  vmSwap: number;
}

/** The number after `\n<key>` searched from `from` (then from the start), as [value, position] or [NaN, from]. */
function statusNumber(text: string, key: string, from = 0): [number, number] {
  let i = text.indexOf('\n' + key, from);
  if (i < 0 && from > 0) i = text.indexOf('\n' + key);
  if (i < 0) return [NaN, from];
  let j = i + 1 + key.length;
  while (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9) j++;
  let k = j;
  while (k < text.length && text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57) k++;
  return k > j ? [Number(text.slice(j, k)), k] : [NaN, from];
}

/** The keys read from status, in the kernel's order (each search starts where the previous one ended). */
const STATUS_KEYS = [
  ['uid', 'Uid:', 1],
  ['vmSize', 'VmSize:', 1024],
  ['vmLck', 'VmLck:', 1024],
  ['vmHwm', 'VmHWM:', 1024],
  ['vmRss', 'VmRSS:', 1024],
  ['vmData', 'VmData:', 1024],
  ['vmStk', 'VmStk:', 1024],
  ['vmSwap', 'VmSwap:', 1024],
  ['voluntaryCtxtSwitches', 'voluntary_ctxt_switches:', 1],
  ['nonvoluntaryCtxtSwitches', 'nonvoluntary_ctxt_switches:', 1],
] as const;

/**
 * /proc/<pid>/status: `Key:\tvalue` lines. Only keys at a line start count
 * (the name on the first line cannot fake one: the kernel escapes newlines in it).
 * Memory lines are absent for kernel threads (0 here; sizes in bytes). Undefined without a Uid line.
 */
export function parsePidStatus(text: string): PidStatus | undefined {
  const t = text.startsWith('\n') ? text : '\n' + text;
  const out = {} as Record<(typeof STATUS_KEYS)[number][0], number>;
  let pos = 0;
  for (const [name, key, scale] of STATUS_KEYS) {
    const [v, next] = statusNumber(t, key, pos);
    if (Number.isNaN(v)) {
      if (name === 'uid') return undefined;
      out[name] = 0;
    } else {
      out[name] = v * scale;
      pos = next;
    }
  }
  return out;
}

export interface PidIo {
  syscr: number;
  syscw: number;
  readBytes: number;
  writeBytes: number;
}

/** /proc/<pid>/io (`key: value` lines); undefined when a counter is missing. */
export function parsePidIo(text: string): PidIo | undefined {
  const t = '\n' + text;
  const out = {
    syscr: statusNumber(t, 'syscr:')[0],
    syscw: statusNumber(t, 'syscw:')[0],
    readBytes: statusNumber(t, 'read_bytes:')[0],
    writeBytes: statusNumber(t, 'write_bytes:')[0],
  };
  return Object.values(out).some(Number.isNaN) ? undefined : out;
}

/** /proc/<pid>/cmdline: NUL-separated arguments (a trailing NUL ends the last one). */
export function parseCmdline(text: string): string[] {
  if (text === '') return [];
  const t = text.endsWith('\0') ? text.slice(0, -1) : text;
  return t.split('\0');
}

/** Container ids are 64 characters of word characters and `+,-.` (DataKit's rule). */
const CONTAINER_ID = /^[\w+,\-.]{64}$/;

/**
 * The container id in /proc/<pid>/cgroup, as DataKit finds it: in each
 * `hierarchy:controllers:path` line, the part after the last `-` of a
 * `*.scope` path element (systemd: `.../cri-containerd-<id>.scope`), else
 * the last path element (cgroupfs: `/kubepods/.../<id>`); the first
 * candidate that looks like an id wins. "" for a host process.
 */
export function containerIdFromCgroup(text: string): string {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const parts = line.split(':');
    if (parts.length !== 3) continue;
    const elems = parts[2]!.split('/');
    const scope = elems.find((e) => e.endsWith('.scope'));
    if (scope !== undefined) {
      const s = scope.slice(0, -'.scope'.length);
      const h = s.lastIndexOf('-');
      const id = h >= 0 && h < s.length - 1 ? s.slice(h + 1) : '';
      if (CONTAINER_ID.test(id)) return id;
    }
    const last = elems[elems.length - 1]!;
    if (CONTAINER_ID.test(last)) return last;
  }
  return '';
}

/** uid → user name from an /etc/passwd text (the first entry of a uid wins, as getpwuid returns). */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || f[0] === '') continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && uid >= 0 && !out.has(uid)) out.set(uid, f[0]!);
  }
  return out;
}

/** One listening TCP socket of /proc/<pid>/net/tcp{,6}. */
export interface ListenSocket {
  inode: number;
  port: number;
}

/**
 * The sockets in LISTEN state (`st` 0A) of a /proc/net/tcp or tcp6 table:
 * `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`,
 * the local port being the hex after the `:` of local_address.
 */
export function parseTcpListen(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const c = f[1]!.lastIndexOf(':');
    const port = parseInt(f[1]!.slice(c + 1), 16);
    const inode = Number(f[9]);
    if (c < 0 || !(port >= 0 && port <= 65535) || !Number.isInteger(inode) || inode <= 0) continue;
    out.push({ inode, port });
  }
  return out;
}

/** `socket:[12345]` (a /proc/<pid>/fd link) → 12345, else undefined. */
export function socketInode(link: string): number | undefined {
  if (!link.startsWith('socket:[') || !link.endsWith(']')) return undefined;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** gopsutil's process states (the word DataKit sends in `state`) by the letter of /proc/<pid>/stat. */
const STATES: Record<string, string> = {
  R: 'running',
  S: 'sleep',
  D: 'blocked',
  U: 'blocked',
  I: 'idle',
  L: 'lock',
  T: 'stop',
  t: 'stop',
  W: 'wait',
  Z: 'zombie',
};

export function stateName(letter: string): string {
  return STATES[letter] ?? '';
}
