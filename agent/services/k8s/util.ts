/** Small helpers shared by the pod watcher and the election. */
import type { Logger } from 'pino';

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. The timer is unref'd. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    t.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `ms` ± 20 %, so that many agents do not retry in lockstep. */
export function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** The HTTP status of a client-node error: ApiException.code or Watch's error.statusCode. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

/** A short one-line description of a client-node error (ApiException messages embed whole bodies). */
export function describe(err: unknown): string {
  const status = statusOf(err);
  const body = err && typeof err === 'object' ? (err as { body?: unknown }).body : undefined;
  let msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    msg = (body as { message: string }).message;
  } else if (typeof body === 'string' && body.length < 300) {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') msg = parsed.message;
    } catch {
      /* not JSON */
    }
  }
  return status ? `${status}: ${msg}` : msg;
}

/** Logs a warning the first time, then at most once per `everyMs` with the count of suppressed ones. */
export class RateLimitedWarn {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly everyMs = 60_000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < this.everyMs) {
      this.suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressed: this.suppressed }, msg);
    this.last = now;
    this.suppressed = 0;
  }
}

/**
 * Resolves with the promise's value, or with undefined as soon as `signal` aborts or
 * `timeoutMs` passes (rejecting with a TimeoutError then). The promise itself keeps
 * running; its result is ignored. For client-node calls, which take no AbortSignal.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal, timeoutMs?: number): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    };
    const onAbort = () => {
      cleanup();
      resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cleanup();
        reject(Object.assign(new Error(`request timed out after ${timeoutMs} ms`), { name: 'TimeoutError' }));
      }, timeoutMs);
      timer.unref();
    }
    p.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e: unknown) => {
        cleanup();
        reject(e);
      },
    );
  });
}
