/** /proc and /sys text parsers of the host inputs: a kernel with unexpected formats must not crash them. */
import { describe, it } from 'vitest';
import fs from 'node:fs';
import * as procfs from '../../agent/services/host/procfs.js';
import { parseCpuinfo, parseOsRelease } from '../../inputs/hostobject/hostinfo.js';
import { parseImage } from '../../inputs/container/filter.js';
import { parsePodDir } from '../../inputs/container/logs/discovery.js';
import * as pid from '../../inputs/host_processes/parse.js';
import { fuzz, inputs, RUNS } from './harness.js';

const read = (f: string, fallback: string) => {
  try {
    return fs.readFileSync(f, 'utf8').slice(0, 4000);
  } catch {
    return fallback;
  }
};

const CASES: [string, (t: string) => unknown, string][] = [
  ['stat', procfs.parseProcStat, read('/proc/stat', 'cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nctxt 5\nbtime 1\nprocs_running 1\n')],
  ['meminfo', procfs.parseMeminfo, read('/proc/meminfo', 'MemTotal: 100 kB\nMemFree: 50 kB\n')],
  ['vmstat', procfs.parseKeyValues, read('/proc/vmstat', 'pgpgin 1\npswpout 2\n')],
  ['diskstats', procfs.parseDiskstats, read('/proc/diskstats', '   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n')],
  ['net/dev', procfs.parseNetDev, read('/proc/net/dev', 'Inter-|   Receive\n face |bytes\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n')],
  ['net/snmp', procfs.parseNetSnmp, read('/proc/net/snmp', 'Tcp: A B\nTcp: 1 2\n')],
  ['loadavg', procfs.parseLoadavg, read('/proc/loadavg', '0.1 0.2 0.3 1/100 42\n')],
  ['mountinfo', procfs.parseMountinfo, read('/proc/self/mountinfo', '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n')],
  ['filesystems', procfs.parseFilesystems, read('/proc/filesystems', 'nodev\tproc\n\text4\n')],
  ['conntrack', procfs.parseConntrackStat, 'entries  searched found new\n0000001a  00000000 00000000 00000000\n'],
  ['udev', procfs.parseUdevData, 'E:ID_FS_TYPE=ext4\nS:disk/by-uuid/x\n'],
  ['cpuinfo', parseCpuinfo, read('/proc/cpuinfo', 'processor\t: 0\nmodel name\t: x\n\n')],
  ['os-release', parseOsRelease, read('/etc/os-release', 'NAME="Debian"\nID=debian\n')],
  ['image', parseImage, 'registry.example.com:5000/team/app:1.2@sha256:abc'],
  ['pod dir', parsePodDir, 'ns_pod-1_0123-4567'],
  ['pid stat', pid.parsePidStat, read('/proc/self/stat', '42 (a) (b c) S 1 42 42 0 -1 0 7 8 9 10 111 222 0 0 20 0 3 0 555 4096 12 0\n')],
  ['pid status', pid.parsePidStatus, read('/proc/self/status', 'Name:\tx\nUid:\t0\t0\t0\t0\nVmRSS:\t 10 kB\nvoluntary_ctxt_switches:\t1\n')],
  ['pid io', pid.parsePidIo, 'rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 5\nwrite_bytes: 6\n'],
  ['pid cmdline', pid.parseCmdline, 'java\0-jar\0app.jar\0'],
  ['pid cgroup', pid.containerIdFromCgroup, `0::/kubepods.slice/cri-containerd-${'a'.repeat(64)}.scope\n12:memory:/kubepods/pod1/${'b'.repeat(64)}\n`],
  ['net/tcp', pid.parseTcpListen, read('/proc/net/tcp', 'sl local rem st\n 0: 0100007F:0050 00000000:0000 0A 0:0 0:0 0 0 0 99 1\n')],
  ['passwd', pid.parsePasswd, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1234:1234::/home/alice:/bin/sh\n'],
  ['fd link', pid.socketInode, 'socket:[12345]'],
];

describe('host and container name parsers', () => {
  // Found by this fuzzer (FUZZ_SEED=101 FUZZ_RUNS=5000): a line ending at the `-` separator read past the fields.
  it('mountinfo: a line ending at the "-" separator does not throw', () => {
    procfs.parseMountinfo('22 27 0:21 / /proc rw,relatime shared:1 master:2 propagate_from:3 -\n');
  });

  // The pid parsers read the kernel's bytes in place (a prefix of the reader's buffer) into a record reused across calls.
  const BYTE_CASES: [string, (b: Buffer, len: number) => unknown, string][] = [
    ['pid stat', (() => { const out = pid.newPidStat(); return (b: Buffer, n: number) => pid.parsePidStat(b, n, out); })(), CASES[15]![2]],
    ['pid status', (() => { const out = pid.newPidStatus(); return (b: Buffer, n: number) => pid.parsePidStatus(b, n, out); })(), CASES[16]![2]],
    ['pid io', (() => { const out = pid.newPidIo(); return (b: Buffer, n: number) => pid.parsePidIo(b, n, out); })(), CASES[17]![2]],
  ];
  for (const [name, fn, seed] of BYTE_CASES) {
    it(`${name} (bytes, a prefix of a larger buffer): never throws`, () => {
      fuzz(inputs([seed]), (b) => fn(Buffer.concat([b, Buffer.from(' 9 9 9)\nUid:\t1\n')]), b.length), { numRuns: Math.ceil(RUNS / 2) });
    });
  }

  for (const [name, fn, seed] of CASES) {
    it(`${name}: never throws`, () => {
      fuzz(inputs([seed]), (b) => fn(b.toString('utf8')), { numRuns: Math.ceil(RUNS / 2) });
    });
  }
});
