/**
 * cpu: CPU usage percentages over each interval from /proc/stat, like
 * DataKit's cpu input (measurement `cpu`, tag `cpu` = cpu-total | cpuN).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { int, nowNs, type Point } from '../../agent/model/point.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import { cpuUsage, parseLoadavg, parseProcStat, type CpuTimes } from '../../agent/services/host/procfs.js';
import { schema, type CpuConfig } from './config.js';

const CPU_SENSORS = new Set(['coretemp', 'k10temp', 'zenpower', 'cpu_thermal']);

export class CpuCollector implements Collector {
  private last = new Map<string, CpuTimes>();
  private lastLoad: { load1: number; at: number } | undefined;
  private temperature: boolean;

  constructor(
    private readonly cfg: CpuConfig,
    private readonly paths: HostPaths,
  ) {
    this.temperature = cfg.enable_temperature && !cfg.disable_temperature_collect;
  }

  async collect(): Promise<Point[]> {
    const stat = parseProcStat(await readText(path.join(this.paths.proc, 'stat')));
    const time = nowNs();
    const extra: Record<string, number | bigint> = {};
    if (this.cfg.enable_load5s) {
      const l5 = await this.load5s();
      if (l5 !== undefined) extra.load5s = int(l5);
    }
    if (this.temperature) {
      const t = await this.coreTemperature();
      if (t === undefined) this.temperature = false; // no sensor: stop looking, like DataKit
      else extra.core_temperature = t;
    }
    const out: Point[] = [];
    for (const cur of stat.cpus) {
      if (!this.cfg.percpu && cur.cpu !== 'cpu-total') continue;
      const prev = this.last.get(cur.cpu);
      this.last.set(cur.cpu, cur);
      if (!prev) continue; // the first collection primes the counters
      const usage = cpuUsage(prev, cur);
      if (!usage) continue;
      const fields: Point['fields'] = { ...usage };
      if (cur.cpu === 'cpu-total') Object.assign(fields, extra);
      else if (extra.load5s !== undefined) fields.load5s = extra.load5s;
      out.push({ category: 'metric', name: 'cpu', tags: { cpu: cur.cpu }, fields, time });
    }
    return out;
  }

  /**
   * The kernel updates load1 every 5 s as load1' = load1·e^(-5/60) + n·(1-e^(-5/60)).
   * Inverting that over the time since the last sample gives the average
   * number of runnable tasks n, which is what DataKit's `load5s` reports.
   */
  private async load5s(): Promise<number | undefined> {
    const text = await readOptional(path.join(this.paths.proc, 'loadavg'));
    if (text === undefined) return undefined;
    const { load1 } = parseLoadavg(text);
    const now = Date.now();
    const prev = this.lastLoad;
    this.lastLoad = { load1, at: now };
    if (!prev || now - prev.at < 1000) return Math.round(load1);
    const decay = Math.exp(-(now - prev.at) / 60_000);
    return Math.max(0, Math.round((load1 - prev.load1 * decay) / (1 - decay)));
  }

  private async coreTemperature(): Promise<number | undefined> {
    const base = path.join(this.paths.sys, 'class', 'hwmon');
    let dirs: string[];
    try {
      dirs = await fs.readdir(base);
    } catch {
      return undefined;
    }
    const temps: number[] = [];
    for (const d of dirs) {
      const name = (await readOptional(path.join(base, d, 'name')))?.trim();
      if (!name || !CPU_SENSORS.has(name)) continue;
      const files = await fs.readdir(path.join(base, d)).catch(() => [] as string[]);
      for (const f of files) {
        if (!/^temp\d+_input$/.test(f)) continue;
        const v = Number((await readOptional(path.join(base, d, f)))?.trim());
        if (Number.isFinite(v) && v > 0) temps.push(v / 1000);
      }
    }
    return temps.length ? temps.reduce((a, b) => a + b, 0) / temps.length : undefined;
  }
}

export const cpu = periodicInput<CpuConfig>({
  name: 'cpu',
  description: 'CPU usage percentages per interval from /proc/stat',
  schema,
  collector: (cfg, paths) => new CpuCollector(cfg, paths),
});
