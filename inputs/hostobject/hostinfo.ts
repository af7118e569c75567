/**
 * Static host facts for the HOST object's `message`: OS release, kernel, CPU
 * models, memory, interfaces and disks, read from the host's /proc, /sys and /etc.
 */
import os from 'node:os';
import path from 'node:path';
import { underRoot, type HostPaths } from '../../agent/services/host/paths.js';
import { readOptional } from '../../agent/services/host/periodic.js';

export interface CpuInfo {
  vendor_id: string;
  module_name: string;
  cores: number;
  mhz: number;
  cache_size: number;
}

/** One entry per physical CPU package (like gopsutil's cpu.Info on Linux, grouped by `physical id`). */
export function parseCpuinfo(text: string): CpuInfo[] {
  const packages = new Map<string, CpuInfo>();
  for (const block of text.split(/\n\s*\n/)) {
    const kv: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) kv[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    if (kv.processor === undefined) continue;
    const id = kv['physical id'] ?? '0';
    const p = packages.get(id);
    if (p) continue;
    packages.set(id, {
      vendor_id: kv.vendor_id ?? kv['CPU implementer'] ?? '',
      module_name: kv['model name'] ?? kv['Processor'] ?? '',
      cores: Number(kv['cpu cores'] ?? 1),
      mhz: Number(kv['cpu MHz'] ?? 0),
      cache_size: Number.parseInt(kv['cache size'] ?? '0', 10) || 0,
    });
  }
  return [...packages.values()];
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

export interface HostMeta {
  host_name: string;
  boot_time: number;
  os: string;
  platform: string;
  platform_family: string;
  platform_version: string;
  kernel_release: string;
  arch: string;
}

export async function hostMeta(paths: HostPaths, hostname: string, bootTime: number): Promise<HostMeta> {
  const rel = parseOsRelease(
    (await readOptional(underRoot(paths, '/etc/os-release'))) ?? (await readOptional(underRoot(paths, '/usr/lib/os-release'))) ?? '',
  );
  return {
    host_name: hostname,
    boot_time: bootTime,
    os: os.platform(),
    platform: rel.ID ?? '',
    platform_family: (rel.ID_LIKE ?? rel.ID ?? '').split(' ')[0] ?? '',
    platform_version: rel.VERSION_ID ?? '',
    kernel_release: ((await readOptional(path.join(paths.proc, 'sys', 'kernel', 'osrelease'))) ?? os.release()).trim(),
    arch: os.machine(),
  };
}

export interface NetInfo {
  name: string;
  mtu: number;
  mac: string;
  ip4: string;
  ip6: string;
  ip4_all: string[];
  ip6_all: string[];
}

/** The agent's interfaces (the host's under hostNetwork), with MTU from sysfs. */
export async function netInfo(paths: HostPaths, include: (name: string) => boolean): Promise<NetInfo[]> {
  const out: NetInfo[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (!include(name) || !addrs) continue;
    const v4 = addrs.filter((a) => a.family === 'IPv4').map((a) => a.cidr ?? a.address);
    const v6 = addrs.filter((a) => a.family === 'IPv6').map((a) => a.cidr ?? a.address);
    out.push({
      name,
      mtu: Number((await readOptional(path.join(paths.sys, 'class', 'net', name, 'mtu')))?.trim() ?? 0),
      mac: addrs[0]?.mac ?? '',
      ip4: v4[0] ?? '',
      ip6: v6[0] ?? '',
      ip4_all: v4,
      ip6_all: v6,
    });
  }
  return out;
}
