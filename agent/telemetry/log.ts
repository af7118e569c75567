/** The agent's own logs: pino to stdout, level from ENV_LOG_LEVEL. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * Logs at most once per `intervalMs` per key; counts what it suppressed and
 * reports the count with the next line, so floods of bad input cost one line a minute.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const s = this.last.get(key);
    if (s && now - s.at < this.intervalMs) {
      s.suppressed++;
      return;
    }
    this.log.warn({ ...obj, suppressed: s?.suppressed ?? 0 }, msg);
    if (this.last.size > 1000) this.last.clear(); // keys are bounded by design; this guards mistakes
    this.last.set(key, { at: now, suppressed: 0 });
  }
}
