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

/**
 * Whether each field (by position after the name; 0 = state) is read, up
 * to the last one read (39: block I/O delays). Read fields go to
 * {@link statFields} by position, then to the record by name (a store by a
 * computed name costs a dictionary lookup per field).
 */
const STAT_READ = new Uint8Array(40);
for (const i of [1, 7, 8, 9, 10, 11, 12, 17, 19, 20, 21, 39]) STAT_READ[i] = 1;
const STAT_LAST = 39;
const statFields = new Float64Array(STAT_LAST + 1);

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
  const f = statFields;
  f[STAT_LAST] = 0;
  let field = 1;
  let i = s + 2;
  while (i < end && field <= STAT_LAST) {
    if (STAT_READ[field] === 1) {
      f[field] = numberAt(b, i, end);
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
  out.ppid = f[1]!;
  out.minflt = f[7]!;
  out.cminflt = f[8]!;
  out.majflt = f[9]!;
  out.cmajflt = f[10]!;
  out.utime = f[11]!;
  out.stime = f[12]!;
  out.numThreads = f[17]!;
  out.starttime = f[19]!;
  out.vsize = f[20]!;
  out.rss = f[21]!;
  out.blkioTicks = f[STAT_LAST]!;
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

/** A wanted key of a `Key: value` file (status, io): its bytes, the slot of {@link vals} its number goes to, its scale. */
interface WantedKey {
  bytes: Buffer;
  slot: number;
  scale: number;
}
/** Wanted keys by length: a line's key is compared byte by byte only with keys as long as it. */
type KeyTable = WantedKey[][];

/**
 * The numbers {@link keyValues} found, by slot (-1: not found); the parser
 * copies them to its record by name (a store by a computed name costs a
 * dictionary lookup per key).
 */
const vals = new Float64Array(16);

/**
 * For each line of `b[0..end)` whose key (the bytes before its `:`) is in
 * `keys`, the number after the separating spaces and tabs goes to its slot
 * of {@link vals}. Only keys at a line start count; the first line with a
 * key wins. Stops after `want` keys were found; returns where it stopped.
 */
function keyValues(b: Bytes, start: number, end: number, keys: KeyTable, want = Infinity): number {
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
        if (!Number.isNaN(n) && n >= 0 && vals[k.slot]! < 0) {
          vals[k.slot] = n * k.scale;
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

function keyTable(entries: [string, number, number][]): KeyTable {
  const t: KeyTable = [];
  for (const [key, slot, scale] of entries) (t[key.length] ??= []).push({ bytes: Buffer.from(key, 'latin1'), slot, scale });
  return t;
}

/** status's slots in {@link vals}. */
const UID = 0, VM_SIZE = 1, VM_LCK = 2, VM_HWM = 3, VM_RSS = 4, VM_DATA = 5, VM_STK = 6, VM_SWAP = 7, VCS = 8, NVCS = 9; // prettier-ignore
/** status's keys up to the memory lines (Uid comes first, the Vm lines together after it) ... */
const STATUS_HEAD_N = 8;

/**
 * {@link keyValues} of status's head keys (Uid, VmSize, VmLck, VmHWM, VmRSS,
 * VmData, VmStk, VmSwap; sizes in kB, stored in bytes), with each line's key
 * told by its first bytes instead of being looked up: the head has ~20 lines
 * of which 8 are wanted. Returns where it stopped.
 */
function statusHead(b: Bytes, start: number, end: number): number {
  let found = 0;
  let i = start;
  while (i < end && found < STATUS_HEAD_N) {
    // the wanted key this line starts with, and where its `:` is
    let slot = -1;
    let colon = -1;
    const c = b[i];
    if (c === 85) {
      if (b[i + 1] === 105 && b[i + 2] === 100) (slot = UID), (colon = i + 3); // Uid
    } else if (c === 86 && b[i + 1] === 109) {
      const c2 = b[i + 2];
      const c3 = b[i + 3];
      if (c2 === 83) {
        if (c3 === 105 && b[i + 4] === 122 && b[i + 5] === 101) (slot = VM_SIZE), (colon = i + 6); // VmSize
        else if (c3 === 116 && b[i + 4] === 107) (slot = VM_STK), (colon = i + 5); // VmStk
        else if (c3 === 119 && b[i + 4] === 97 && b[i + 5] === 112) (slot = VM_SWAP), (colon = i + 6); // VmSwap
      } else if (c2 === 76) {
        if (c3 === 99 && b[i + 4] === 107) (slot = VM_LCK), (colon = i + 5); // VmLck
      } else if (c2 === 72) {
        if (c3 === 87 && b[i + 4] === 77) (slot = VM_HWM), (colon = i + 5); // VmHWM
      } else if (c2 === 82) {
        if (c3 === 83 && b[i + 4] === 83) (slot = VM_RSS), (colon = i + 5); // VmRSS
      } else if (c2 === 68) {
        if (c3 === 97 && b[i + 4] === 116 && b[i + 5] === 97) (slot = VM_DATA), (colon = i + 6); // VmData
      }
    }
    let j = i;
    if (slot >= 0 && colon < end && b[colon] === 58) {
      let v = colon + 1;
      while (v < end && (b[v] === 32 || b[v] === 9)) v++;
      const n = numberAt(b, v, end);
      if (!Number.isNaN(n) && n >= 0 && vals[slot]! < 0) {
        vals[slot] = slot === UID ? n : n * 1024;
        found++;
      }
      j = numEnd;
    }
    while (j < end && b[j] !== 10) j++;
    i = j + 1;
  }
  return i;
}
const NL_UID = Buffer.from('\nUid:');
/** ... and the context switches, status's last lines. */
const STATUS_TAIL = keyTable([
  ['voluntary_ctxt_switches', VCS, 1],
  ['nonvoluntary_ctxt_switches', NVCS, 1],
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
  vals.fill(-1, 0, NVCS + 1);
  const end = Math.min(len ?? b.length, b.length);
  // Half of status (signal masks, capabilities, cpu and memory node lists) sits between the
  // memory lines and the context switches: read up to the last memory line, then the last lines.
  // the first lines (Name, Umask, State, Tgid, Ngid, Pid, PPid, TracerPid) are skipped by a native search
  let from = b[0] === 85 ? 0 : b.indexOf(NL_UID);
  from = from < 0 || from + NL_UID.length > end ? 0 : from + 1;
  const mid = statusHead(b, from, end);
  let tail = mid;
  for (let x = end - 2, nl = 0; x >= mid; x--) {
    if (b[x] === 10 && ++nl === TAIL_LINES) {
      tail = x + 1;
      break;
    }
  }
  keyValues(b, tail, end, STATUS_TAIL, 2);
  if (vals[VCS]! < 0 || vals[NVCS]! < 0) keyValues(b, from, end, STATUS_TAIL, 2); // not where the kernel writes them
  if (vals[UID]! < 0) return undefined;
  // kernel threads have no memory lines: 0
  const v = (slot: number) => Math.max(vals[slot]!, 0);
  out.uid = vals[UID]!;
  out.voluntaryCtxtSwitches = v(VCS);
  out.nonvoluntaryCtxtSwitches = v(NVCS);
  out.vmRss = v(VM_RSS);
  out.vmSize = v(VM_SIZE);
  out.vmHwm = v(VM_HWM);
  out.vmData = v(VM_DATA);
  out.vmStk = v(VM_STK);
  out.vmLck = v(VM_LCK);
  out.vmSwap = v(VM_SWAP);
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

const IO_KEYS = keyTable([
  ['syscr', 0, 1],
  ['syscw', 1, 1],
  ['read_bytes', 2, 1],
  ['write_bytes', 3, 1],
]);

/** /proc/<pid>/io (`key: value` lines); undefined when a counter is missing. */
export function parsePidIo(text: string | Bytes, len?: number, out: PidIo = newPidIo()): PidIo | undefined {
  const b = bytesOf(text);
  vals.fill(-1, 0, 4);
  keyValues(b, 0, Math.min(len ?? b.length, b.length), IO_KEYS, 4);
  out.syscr = vals[0]!;
  out.syscw = vals[1]!;
  out.readBytes = vals[2]!;
  out.writeBytes = vals[3]!;
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
