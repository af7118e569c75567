import { describe, expect, it } from 'vitest';
import {
  countUtmpUsers,
  cpuUsage,
  memStat,
  parseConntrackStat,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parseNetSnmp,
  parseProcStat,
  parseUdevData,
} from './procfs.js';
import { hostPaths } from './paths.js';

describe('procfs parsers', () => {
  it('computes CPU usage from two /proc/stat samples, guest not counted twice', () => {
    const a = parseProcStat('cpu  100 0 50 800 50 0 0 0 10 0\ncpu0 100 0 50 800 50 0 0 0 10 0\nbtime 1700000000\n');
    const b = parseProcStat('cpu  160 0 70 900 70 0 0 0 20 0\ncpu0 160 0 70 900 70 0 0 0 20 0\nbtime 1700000000\n');
    expect(a.cpus.map((c) => c.cpu)).toEqual(['cpu-total', 'cpu0']);
    expect(a.btime).toBe(1700000000);
    const u = cpuUsage(a.cpus[0]!, b.cpus[0]!)!;
    // delta total = 60 + 20 + 100 + 20 = 200
    expect(u.usage_user).toBeCloseTo(30);
    expect(u.usage_system).toBeCloseTo(10);
    expect(u.usage_idle).toBeCloseTo(50);
    expect(u.usage_iowait).toBeCloseTo(10);
    expect(u.usage_guest).toBeCloseTo(5);
    expect(u.usage_total).toBeCloseTo(50);
    expect(cpuUsage(b.cpus[0]!, b.cpus[0]!)).toBeUndefined();
  });

  it('derives used memory like gopsutil', () => {
    const mi = parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\nBuffers: 100 kB\nCached: 250 kB\nSReclaimable: 50 kB\nHugePages_Total: 3\n');
    expect(mi.HugePages_Total).toBe(3);
    const m = memStat(mi);
    expect(m.total).toBe(1024000);
    expect(m.used).toBe((1000 - 200 - 100 - 300) * 1024);
    expect(m.usedPercent).toBeCloseTo(40);
    expect(m.availablePercent).toBeCloseTo(60);
  });

  it('parses diskstats, net/dev, net/snmp, loadavg', () => {
    const d = parseDiskstats(' 254 0 vda 11160 5819 952450 4076 2276 33144 1301728 3291 0 2048 7771 3598 49 52232 403\n');
    expect(d[0]).toMatchObject({ name: 'vda', reads: 11160, sectorsRead: 952450, writes: 2276, ioTime: 2048, weightedIoTime: 7771 });
    const n = parseNetDev('Inter-| Receive\n face |bytes\n  eth0: 10 2 0 1 0 0 0 0 20 3 0 0 0 0 0 0\n');
    expect(n).toEqual([{ name: 'eth0', bytesRecv: 10, packetsRecv: 2, errIn: 0, dropIn: 1, bytesSent: 20, packetsSent: 3, errOut: 0, dropOut: 0 }]);
    const s = parseNetSnmp('Tcp: RtoMin ActiveOpens InSegs\nTcp: 200 5 77\nUdp: InDatagrams\nUdp: 9\n');
    expect(s.Tcp).toEqual({ RtoMin: 200, ActiveOpens: 5, InSegs: 77 });
    expect(s.Udp!.InDatagrams).toBe(9);
    expect(parseLoadavg('0.04 0.05 0.02 1/95 6277\n')).toEqual({ load1: 0.04, load5: 0.05, load15: 0.02, running: 1, threads: 95 });
  });

  it('parses mountinfo with optional fields and escapes', () => {
    const m = parseMountinfo(
      '36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n' +
        '22 27 0:21 / /proc rw,relatime - proc proc rw\n',
    );
    expect(m[0]).toEqual({ devId: '98:0', mountPoint: '/mnt/my disk', options: ['rw', 'noatime'], fstype: 'ext3', device: '/dev/root' });
    expect(m[1]!.fstype).toBe('proc');
  });

  it('sums per-CPU conntrack stats and reads udev properties and utmp', () => {
    const st = parseConntrackStat('entries found invalid\n0000000a 00000001 00000002\n0000000a 00000003 00000000\n');
    expect(st).toEqual({ entries: 10, found: 4, invalid: 2 });
    expect(parseUdevData('S:disk/by-id/x\nE:ID_SERIAL=QEMU_123\nE:ID_FS_TYPE=ext4\n')).toEqual({ ID_SERIAL: 'QEMU_123', ID_FS_TYPE: 'ext4' });
    const utmp = Buffer.alloc(384 * 3);
    utmp.writeInt32LE(7, 0);
    utmp.writeInt32LE(2, 384);
    utmp.writeInt32LE(7, 768);
    expect(countUtmpUsers(utmp)).toBe(2);
  });

  it('resolves host paths from the option, then HOST_PROC/HOST_SYS/HOST_ETC/HOST_ROOT', () => {
    expect(hostPaths('', {})).toEqual({ root: '/', proc: '/proc', sys: '/sys', etc: '/etc' });
    expect(hostPaths('', { HOST_ROOT: '/rootfs' })).toEqual({ root: '/rootfs', proc: '/rootfs/proc', sys: '/rootfs/sys', etc: '/rootfs/etc' });
    expect(hostPaths('', { HOST_PROC: '/hp', HOST_SYS: '/hs', HOST_ETC: '/he' })).toEqual({ root: '/', proc: '/hp', sys: '/hs', etc: '/he' });
    expect(hostPaths('/host', { HOST_PROC: '/hp', HOST_ETC: '/he' })).toEqual({ root: '/host', proc: '/host/proc', sys: '/host/sys', etc: '/host/etc' });
  });
});
