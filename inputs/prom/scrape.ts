/**
 * One HTTP GET of a metrics endpoint, with a timeout, a response size limit,
 * optional TLS client settings, bearer token and extra headers. Never throws:
 * failures come back classified by a bounded `reason` for the error counter.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';

export type ScrapeFailure = 'invalid_url' | 'timeout' | 'connect' | 'tls' | 'http_status' | 'too_large' | 'decode' | 'aborted';

export type ScrapeResult =
  | { ok: true; text: string; openMetrics: boolean; bytes: number }
  | { ok: false; reason: ScrapeFailure; message: string };

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  insecureSkipVerify: boolean;
}

export interface ScrapeRequest {
  url: string;
  timeoutMs: number;
  maxBytes: number;
  headers: Readonly<Record<string, string>>;
  /** Returns the current bearer token, or undefined. */
  token?: () => string | undefined;
}

const ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Builds the undici dispatcher of an instance: reads the TLS files (I/O, so call it from start()). */
export function makeDispatcher(tls: TlsOptions | undefined, connections = 4): Dispatcher {
  const read = (p: string | undefined) => (p ? fs.readFileSync(p) : undefined);
  return new Agent({
    connections,
    keepAliveTimeout: 60_000,
    connect: tls ? { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key), rejectUnauthorized: !tls.insecureSkipVerify } : undefined,
  });
}

/** A bearer token file re-read at most once a minute (projected tokens rotate). */
export function tokenFile(path: string): () => string | undefined {
  let cached: string | undefined;
  let at = 0;
  return () => {
    const now = Date.now();
    if (now - at > 60_000) {
      at = now;
      try {
        cached = fs.readFileSync(path, 'utf8').trim();
      } catch {
        cached = undefined;
      }
    }
    return cached;
  };
}

/** A scrape target's URL, parsed once per request object (scrapes repeat it every interval). */
const targets = new WeakMap<ScrapeRequest, { origin: string; path: string } | Error>();

function targetOf(req: ScrapeRequest): { origin: string; path: string } | Error {
  let t = targets.get(req);
  if (t === undefined) {
    try {
      const url = new URL(req.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
      t = { origin: url.origin, path: url.pathname + url.search };
    } catch (e) {
      t = e as Error;
    }
    targets.set(req, t);
  }
  return t;
}

function classify(e: unknown, timeoutMs: number): ScrapeResult {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err.code ?? err.cause?.code ?? '';
  if (/TIMEOUT/i.test(code)) return { ok: false, reason: 'timeout', message: err.message || `no answer within ${timeoutMs} ms` };
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return { ok: false, reason: 'tls', message: `${code}: ${err.message}` };
  return { ok: false, reason: 'connect', message: `${code ? `${code}: ` : ''}${err.message}` };
}

const header = (h: Record<string, string | string[] | undefined>, k: string): string => {
  const v = h[k];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/**
 * GETs the target through the dispatcher's handler interface (undici's
 * `dispatch`): the body's chunks are collected as they come, without the
 * promise-and-stream layers of `request()` and without composed abort signals
 * (one timer, one listener on `stop`): about half the CPU per scrape
 * (bench/prom/schedule.mjs, BENCHMARKS.md).
 */
export function scrape(dispatcher: Dispatcher, req: ScrapeRequest, stop: AbortSignal): Promise<ScrapeResult> {
  const target = targetOf(req);
  if (target instanceof Error) return Promise.resolve({ ok: false, reason: 'invalid_url', message: target.message });
  if (stop.aborted) return Promise.resolve({ ok: false, reason: 'aborted', message: 'stopped' });
  const headers: Record<string, string> = { accept: ACCEPT, 'accept-encoding': 'gzip', 'user-agent': 'telekit-prom', ...req.headers };
  const token = req.token?.();
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise<ScrapeResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    /** the status when it is not 2xx: the body is read away, then the scrape fails */
    let badStatus = 0;
    let ctype = '';
    let enc = '';
    let ctl: Dispatcher.DispatchController | undefined;
    let done = false;
    const finish = (r: ScrapeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      resolve(r);
    };
    /** Ends the scrape with a failure and drops the connection's request. */
    const fail = (reason: ScrapeFailure, message: string): void => {
      finish({ ok: false, reason, message });
      ctl?.abort(new Error(message));
    };
    const timer = setTimeout(() => fail('timeout', `no answer within ${req.timeoutMs} ms`), req.timeoutMs);
    const onStop = (): void => fail('aborted', 'stopped');
    stop.addEventListener('abort', onStop, { once: true });
    try {
      dispatcher.dispatch(
        { origin: target.origin, path: target.path, method: 'GET', headers, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs },
        {
          onRequestStart(c) {
            ctl = c;
            if (done) c.abort(new Error('scrape ended'));
          },
          onResponseStart(_c, statusCode, h) {
            if (statusCode < 200 || statusCode >= 300) {
              // the body is read away (the connection stays usable)
              badStatus = statusCode;
              return;
            }
            const declared = Number(header(h, 'content-length') || NaN);
            if (declared > req.maxBytes) return fail('too_large', `content-length ${declared} over ${req.maxBytes} bytes`);
            ctype = header(h, 'content-type');
            enc = header(h, 'content-encoding').toLowerCase();
          },
          onResponseData(_c, chunk) {
            size += chunk.length;
            if (badStatus !== 0) {
              if (size > req.maxBytes) fail('http_status', `HTTP ${badStatus}`);
              return;
            }
            if (size > req.maxBytes) return fail('too_large', `body over ${req.maxBytes} bytes`);
            chunks.push(chunk);
          },
          onResponseEnd() {
            if (badStatus !== 0) return finish({ ok: false, reason: 'http_status', message: `HTTP ${badStatus}` });
            let buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
            if (enc === 'gzip' || enc === 'deflate') {
              try {
                buf = enc === 'gzip' ? zlib.gunzipSync(buf, { maxOutputLength: req.maxBytes }) : zlib.inflateSync(buf, { maxOutputLength: req.maxBytes });
              } catch (e) {
                const tooLarge = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
                return finish({ ok: false, reason: tooLarge ? 'too_large' : 'decode', message: (e as Error).message });
              }
            }
            finish({ ok: true, text: buf.toString('utf8'), openMetrics: ctype.startsWith('application/openmetrics-text'), bytes: buf.length });
          },
          onResponseError(_c, err) {
            finish(classify(err, req.timeoutMs));
          },
        },
      );
    } catch (e) {
      finish(classify(e, req.timeoutMs));
    }
  });
}
