/** mem: host memory from /proc/meminfo, with DataKit's `mem` measurement fields. */
import path from 'node:path';
import { nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readText, type Collector } from '../../agent/services/host/periodic.js';
import { memStat, parseMeminfo } from '../../agent/services/host/procfs.js';
import { schema, type MemConfig } from './config.js';

/** DataKit field name → /proc/meminfo key (values in bytes; HugePages_* are counts). */
const MEMINFO_FIELDS: Record<string, string> = {
  active: 'Active',
  commit_limit: 'CommitLimit',
  committed_as: 'Committed_AS',
  dirty: 'Dirty',
  high_free: 'HighFree',
  high_total: 'HighTotal',
  huge_pages_free: 'HugePages_Free',
  huge_pages_size: 'Hugepagesize',
  huge_pages_total: 'HugePages_Total',
  inactive: 'Inactive',
  low_free: 'LowFree',
  low_total: 'LowTotal',
  mapped: 'Mapped',
  page_tables: 'PageTables',
  shared: 'Shmem',
  slab: 'Slab',
  sreclaimable: 'SReclaimable',
  sunreclaim: 'SUnreclaim',
  swap_cached: 'SwapCached',
  swap_free: 'SwapFree',
  swap_total: 'SwapTotal',
  vmalloc_chunk: 'VmallocChunk',
  vmalloc_total: 'VmallocTotal',
  vmalloc_used: 'VmallocUsed',
  write_back: 'Writeback',
  write_back_tmp: 'WritebackTmp',
};

export function memPoint(meminfo: string): Point {
  const mi = parseMeminfo(meminfo);
  const m = memStat(mi);
  const fields: Point['fields'] = {
    total: uint(m.total),
    available: uint(m.available),
    used: uint(m.used),
    free: uint(m.free),
    buffered: uint(m.buffers),
    cached: uint(m.cached),
    used_percent: m.usedPercent,
    available_percent: m.availablePercent,
  };
  for (const [f, k] of Object.entries(MEMINFO_FIELDS)) fields[f] = uint(mi[k] ?? 0);
  return { category: 'metric', name: 'mem', tags: {}, fields, time: nowNs() };
}

export class MemCollector implements Collector {
  constructor(private readonly paths: HostPaths) {}
  async collect(): Promise<Point[]> {
    return [memPoint(await readText(path.join(this.paths.proc, 'meminfo')))];
  }
}

export const mem = periodicInput<MemConfig>({
  name: 'mem',
  description: 'Host memory usage from /proc/meminfo',
  schema,
  collector: (_, paths) => new MemCollector(paths),
});
