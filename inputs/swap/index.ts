/** swap: swap space from /proc/meminfo and pages swapped in/out from /proc/vmstat. */
import path from 'node:path';
import { nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import { parseKeyValues, parseMeminfo } from '../../agent/services/host/procfs.js';
import { schema, type SwapConfig } from './config.js';

/** /proc/vmstat counts pages; like gopsutil we count 4 KiB pages. */
const PAGE = 4096;

export function swapPoint(meminfo: string, vmstat: string | undefined): Point {
  const mi = parseMeminfo(meminfo);
  const vm = vmstat ? parseKeyValues(vmstat) : {};
  const total = mi.SwapTotal ?? 0;
  const free = mi.SwapFree ?? 0;
  const used = total - free;
  return {
    category: 'metric',
    name: 'swap',
    tags: {},
    fields: {
      total: uint(total),
      used: uint(used),
      free: uint(free),
      used_percent: total > 0 ? (100 * used) / total : 0,
      in: uint((vm.pswpin ?? 0) * PAGE),
      out: uint((vm.pswpout ?? 0) * PAGE),
    },
    time: nowNs(),
  };
}

export class SwapCollector implements Collector {
  constructor(private readonly paths: HostPaths) {}
  async collect(): Promise<Point[]> {
    const [mi, vm] = await Promise.all([
      readText(path.join(this.paths.proc, 'meminfo')),
      readOptional(path.join(this.paths.proc, 'vmstat')),
    ]);
    return [swapPoint(mi, vm)];
  }
}

export const swap = periodicInput<SwapConfig>({
  name: 'swap',
  description: 'Host swap usage from /proc/meminfo and /proc/vmstat',
  schema,
  collector: (_, paths) => new SwapCollector(paths),
});
