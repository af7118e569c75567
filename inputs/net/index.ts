/**
 * net: per-interface traffic counters and rates from /proc/net/dev, plus
 * system-wide TCP/UDP counters from /proc/net/snmp (tag interface=all), like
 * DataKit's `net` measurement.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { int, nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import { parseNetDev, parseNetSnmp, type NetDevStat } from '../../agent/services/host/procfs.js';
import { schema, type NetConfig } from './config.js';

const IFF_UP = 0x1;
/** Protocol counters that also get a `/sec` rate. */
const RATED = new Set(['tcp_insegs', 'tcp_outsegs', 'udp_indatagrams', 'udp_outdatagrams']);

export class NetCollector implements Collector {
  private last: { at: number; ifaces: Map<string, NetDevStat>; proto: Record<string, number> } | undefined;
  private readonly filters: RegExp[];

  constructor(
    private readonly cfg: NetConfig,
    private readonly paths: HostPaths,
  ) {
    this.filters = cfg.interfaces.map((r) => new RegExp(r));
  }

  private async virtualSet(): Promise<Set<string>> {
    try {
      return new Set(await fs.readdir(path.join(this.paths.sys, 'devices', 'virtual', 'net')));
    } catch {
      return new Set(['lo']);
    }
  }

  private async isUp(name: string): Promise<boolean> {
    const flags = await readOptional(path.join(this.paths.sys, 'class', 'net', name, 'flags'));
    return flags === undefined ? true : (parseInt(flags.trim(), 16) & IFF_UP) !== 0;
  }

  /** DataKit's order: interfaces that are up, matching `interfaces` if set, minus virtual ones unless enabled. */
  async select(all: NetDevStat[]): Promise<NetDevStat[]> {
    const virt = this.cfg.enable_virtual_interfaces ? new Set<string>() : await this.virtualSet();
    const out: NetDevStat[] = [];
    for (const s of all) {
      if (virt.has(s.name)) continue;
      if (this.filters.length > 0 && !this.filters.some((f) => f.test(s.name))) continue;
      if (await this.isUp(s.name)) out.push(s);
    }
    return out;
  }

  async collect(): Promise<Point[]> {
    const devs = await this.select(parseNetDev(await readText(path.join(this.paths.proc, 'net', 'dev'))));
    const at = Date.now();
    const time = nowNs();
    const prev = this.last;
    const dt = prev ? (at - prev.at) / 1000 : 0;
    const out: Point[] = [];
    for (const s of devs) {
      const fields: Point['fields'] = {
        bytes_sent: uint(s.bytesSent),
        bytes_recv: uint(s.bytesRecv),
        packets_sent: uint(s.packetsSent),
        packets_recv: uint(s.packetsRecv),
        err_in: uint(s.errIn),
        err_out: uint(s.errOut),
        drop_in: uint(s.dropIn),
        drop_out: uint(s.dropOut),
      };
      const p = prev?.ifaces.get(s.name);
      if (p && dt > 0 && s.bytesSent >= p.bytesSent && s.bytesRecv >= p.bytesRecv) {
        fields['bytes_sent/sec'] = int((s.bytesSent - p.bytesSent) / dt);
        fields['bytes_recv/sec'] = int((s.bytesRecv - p.bytesRecv) / dt);
        fields['packets_sent/sec'] = int((s.packetsSent - p.packetsSent) / dt);
        fields['packets_recv/sec'] = int((s.packetsRecv - p.packetsRecv) / dt);
      }
      out.push({ category: 'metric', name: 'net', tags: { interface: s.name }, fields, time });
    }
    const proto: Record<string, number> = {};
    if (!this.cfg.ignore_protocol_stats) {
      const snmp = parseNetSnmp((await readOptional(path.join(this.paths.proc, 'net', 'snmp'))) ?? '');
      for (const p of ['Tcp', 'Udp']) {
        for (const [k, v] of Object.entries(snmp[p] ?? {})) proto[`${p.toLowerCase()}_${k.toLowerCase()}`] = v;
      }
      if (Object.keys(proto).length > 0) {
        const fields: Point['fields'] = {};
        for (const [k, v] of Object.entries(proto)) {
          fields[k] = int(v);
          const pv = prev?.proto[k];
          if (RATED.has(k) && pv !== undefined && dt > 0 && v >= pv) fields[`${k}/sec`] = int((v - pv) / dt);
        }
        out.push({ category: 'metric', name: 'net', tags: { interface: 'all' }, fields, time });
      }
    }
    this.last = { at, ifaces: new Map(devs.map((s) => [s.name, s])), proto };
    return out;
  }
}

export const net = periodicInput<NetConfig>({
  name: 'net',
  description: 'Network interface traffic and TCP/UDP counters from /proc/net',
  schema,
  collector: (cfg, paths) => new NetCollector(cfg, paths),
});
