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

export function newPidStat(): PidStat {
  return { comm: '', state: '', ppid: 0, minflt: 0, cminflt: 0, majflt: 0, cmajflt: 0, utime: 0, stime: 0, numThreads: 0, starttime: 0, vsize: 0, rss: 0, blkioTicks: 0 };
}

/**
 * The parsers below read the kernel's bytes where they lie (the reader's
 * shared buffer): no string per file, no split, and the result written into
 * a record the caller keeps per process. A string argument (tests, fuzzing)
 * is encoded first.
 */
type Bytes = Buffer;
const bytesOf = (t: string | Bytes): Bytes => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t);

/**
 * A decimal number at `b[i..]` up to the next byte that is not a digit, or
 * NaN without a digit. A leading `-` is taken (some stat fields are signed).
 * The end position is left in {@link numEnd}.
 */
let numEnd = 0;
function numberAt(b: Bytes, i: number, end: number): number {
  let neg = false;
  if (i < end && b[i] === 45) {
    neg = true;
    i++;
  }
  const first = i;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  numEnd = i;
  if (i === first) return NaN;
  return neg ? -v : v;
}

/** Positions (after the name; 0 = state) of the fields read, and where each goes. */
const STAT_SLOTS: [number, Exclude<keyof PidStat, 'comm' | 'state'>][] = [
  [1, 'ppid'],
  [7, 'minflt'],
  [8, 'cminflt'],
  [9, 'majflt'],
  [10, 'cmajflt'],
  [11, 'utime'],
  [12, 'stime'],
  [17, 'numThreads'],
  [19, 'starttime'],
  [20, 'vsize'],
  [21, 'rss'],
  [39, 'blkioTicks'],
];
const STAT_SLOT_OF: (Exclude<keyof PidStat, 'comm' | 'state'> | undefined)[] = [];
for (const [i, k] of STAT_SLOTS) STAT_SLOT_OF[i] = k;
const STAT_LAST = 39;

/**
 * `pid (comm) state ppid ...` (the first `len` bytes of `text`). The name sits
 * between the first `(` and the LAST `)`, since a process may call itself
 * `a) (b`; the fields after it are space-separated numbers (proc(5)). Fills
 * `out` and returns it, or undefined on a truncated or malformed line.
 */
export function parsePidStat(text: string | Bytes, len?: number, out: PidStat = newPidStat()): PidStat | undefined {
  const b = bytesOf(text);
  const end = Math.min(len ?? b.length, b.length);
  let open = -1;
  for (let i = 0; i < end; i++) {
    if (b[i] === 40) {
      open = i;
      break;
    }
  }
  let close = -1;
  for (let i = end - 1; i > open; i--) {
    if (b[i] === 41) {
      close = i;
      break;
    }
  }
  if (open < 0 || close < 0 || b[close + 1] !== 32) return undefined;
  // state: one byte followed by a space
  const s = close + 2;
  if (s + 1 >= end || b[s + 1] !== 32) return undefined;
  const state = b[s]!;
  out.blkioTicks = 0;
  let field = 1;
  let i = s + 2;
  while (i < end && field <= STAT_LAST) {
    const slot = STAT_SLOT_OF[field];
    if (slot !== undefined) {
      out[slot] = numberAt(b, i, end);
      i = numEnd;
    }
    while (i < end && b[i] !== 32 && b[i] !== 10) i++;
    if (i < end && b[i] === 10) {
      field++;
      break;
    }
    field++;
    i++;
  }
  // state (field 3 of proc(5)) .. rss (field 24) must all be there
  if (field < 22) return undefined;
  if (Number.isNaN(out.utime) || Number.isNaN(out.stime) || Number.isNaN(out.starttime) || Number.isNaN(out.numThreads)) return undefined;
  if (Number.isNaN(out.blkioTicks)) out.blkioTicks = 0;
  out.state = STATE_LETTERS[state] ?? String.fromCharCode(state);
  out.comm = b.toString('utf8', open + 1, close);
  return out;
}

/** One-letter strings by byte, so a state costs no allocation. */
const STATE_LETTERS: string[] = [];
for (let c = 33; c < 127; c++) STATE_LETTERS[c] = String.fromCharCode(c);

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

export function newPidStatus(): PidStatus {
  return { uid: 0, voluntaryCtxtSwitches: 0, nonvoluntaryCtxtSwitches: 0, vmRss: 0, vmSize: 0, vmHwm: 0, vmData: 0, vmStk: 0, vmLck: 0, vmSwap: 0 };
}

/** A wanted key of a `Key: value` file (status, io): its bytes, where its number goes, its scale. */
interface WantedKey<K extends string> {
  bytes: Buffer;
  name: K;
  scale: number;
}
/** Wanted keys by length: a line's key is compared byte by byte only with keys as long as it. */
type KeyTable<K extends string> = WantedKey<K>[][];

/**
 * For each line of `b[0..end)` whose key (the bytes before its `:`) is in
 * `keys`, the number after the separating spaces and tabs goes to `out`.
 * Only keys at a line start count; the first line with a key wins. Stops
 * after `want` keys were found; returns where it stopped.
 */
function keyValues<K extends string>(b: Bytes, start: number, end: number, keys: KeyTable<K>, out: Record<K, number>, want = Infinity): number {
  let found = 0;
  let i = start;
  while (i < end && found < want) {
    let j = i;
    while (j < end && b[j] !== 58 && b[j] !== 10) j++;
    const cands = j < end && b[j] === 58 ? keys[j - i] : undefined;
    if (cands !== undefined) {
      for (const k of cands) {
        const kb = k.bytes;
        let same = true;
        for (let x = 0; x < kb.length; x++) {
          if (b[i + x] !== kb[x]) {
            same = false;
            break;
          }
        }
        if (!same) continue;
        let v = j + 1;
        while (v < end && (b[v] === 32 || b[v] === 9)) v++;
        const n = numberAt(b, v, end);
        if (!Number.isNaN(n) && n >= 0 && out[k.name] < 0) {
          out[k.name] = n * k.scale;
          found++;
        }
        j = numEnd;
        break;
      }
    }
    while (j < end && b[j] !== 10) j++;
    i = j + 1;
  }
  return i;
}

function keyTable<K extends string>(entries: [string, K, number][]): KeyTable<K> {
  const t: KeyTable<K> = [];
  for (const [key, name, scale] of entries) (t[key.length] ??= []).push({ bytes: Buffer.from(key, 'latin1'), name, scale });
  return t;
}

/** status's keys up to the memory lines (Uid comes first, the Vm lines together after it) ... */
const STATUS_HEAD = keyTable<keyof PidStatus>([
  ['Uid', 'uid', 1],
  ['VmSize', 'vmSize', 1024],
  ['VmLck', 'vmLck', 1024],
  ['VmHWM', 'vmHwm', 1024],
  ['VmRSS', 'vmRss', 1024],
  ['VmData', 'vmData', 1024],
  ['VmStk', 'vmStk', 1024],
  ['VmSwap', 'vmSwap', 1024],
]);
const STATUS_HEAD_N = 8;
const NL_UID = Buffer.from('\nUid:');
/** ... and the context switches, status's last lines. */
const STATUS_TAIL = keyTable<keyof PidStatus>([
  ['voluntary_ctxt_switches', 'voluntaryCtxtSwitches', 1],
  ['nonvoluntary_ctxt_switches', 'nonvoluntaryCtxtSwitches', 1],
]);
/** How many lines from its end status's tail search starts (the kernel writes the two context-switch lines last). */
const TAIL_LINES = 3;

/**
 * /proc/<pid>/status: `Key:\tvalue` lines. Only keys at a line start count
 * (the name on the first line cannot fake one: the kernel escapes newlines in it).
 * Memory lines are absent for kernel threads (0 here; sizes in bytes). Undefined without a Uid line.
 */
export function parsePidStatus(text: string | Bytes, len?: number, out: PidStatus = newPidStatus()): PidStatus | undefined {
  const b = bytesOf(text);
  out.uid = out.voluntaryCtxtSwitches = out.nonvoluntaryCtxtSwitches = out.vmRss = out.vmSize = out.vmHwm = out.vmData = out.vmStk = out.vmLck = out.vmSwap = -1;
  const end = Math.min(len ?? b.length, b.length);
  // Half of status (signal masks, capabilities, cpu and memory node lists) sits between the
  // memory lines and the context switches: read up to the last memory line, then the last lines.
  // the first lines (Name, Umask, State, Tgid, Ngid, Pid, PPid, TracerPid) are skipped by a native search
  let from = b[0] === 85 ? 0 : b.indexOf(NL_UID);
  from = from < 0 || from + NL_UID.length > end ? 0 : from + 1;
  const mid = keyValues(b, from, end, STATUS_HEAD, out, STATUS_HEAD_N);
  let tail = mid;
  for (let x = end - 2, nl = 0; x >= mid; x--) {
    if (b[x] === 10 && ++nl === TAIL_LINES) {
      tail = x + 1;
      break;
    }
  }
  keyValues(b, tail, end, STATUS_TAIL, out, 2);
  if (out.voluntaryCtxtSwitches < 0 || out.nonvoluntaryCtxtSwitches < 0) keyValues(b, from, end, STATUS_TAIL, out, 2); // not where the kernel writes them
  if (out.uid < 0) return undefined;
  // kernel threads have no memory lines: 0
  if (out.voluntaryCtxtSwitches < 0) out.voluntaryCtxtSwitches = 0;
  if (out.nonvoluntaryCtxtSwitches < 0) out.nonvoluntaryCtxtSwitches = 0;
  if (out.vmRss < 0) out.vmRss = 0;
  if (out.vmSize < 0) out.vmSize = 0;
  if (out.vmHwm < 0) out.vmHwm = 0;
  if (out.vmData < 0) out.vmData = 0;
  if (out.vmStk < 0) out.vmStk = 0;
  if (out.vmLck < 0) out.vmLck = 0;
  if (out.vmSwap < 0) out.vmSwap = 0;
  return out;
}

export interface PidIo {
  syscr: number;
  syscw: number;
  readBytes: number;
  writeBytes: number;
}

export function newPidIo(): PidIo {
  return { syscr: 0, syscw: 0, readBytes: 0, writeBytes: 0 };
}

const IO_KEYS = keyTable<keyof PidIo>([
  ['syscr', 'syscr', 1],
  ['syscw', 'syscw', 1],
  ['read_bytes', 'readBytes', 1],
  ['write_bytes', 'writeBytes', 1],
]);

/** /proc/<pid>/io (`key: value` lines); undefined when a counter is missing. */
export function parsePidIo(text: string | Bytes, len?: number, out: PidIo = newPidIo()): PidIo | undefined {
  const b = bytesOf(text);
  out.syscr = out.syscw = out.readBytes = out.writeBytes = -1;
  keyValues(b, 0, Math.min(len ?? b.length, b.length), IO_KEYS, out, 4);
  return out.syscr < 0 || out.syscw < 0 || out.readBytes < 0 || out.writeBytes < 0 ? undefined : out;
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
