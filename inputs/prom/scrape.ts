/**
 * One HTTP GET of a metrics endpoint, with a timeout, a response size limit,
 * optional TLS client settings, bearer token and extra headers. Never throws:
 * failures come back classified by a bounded `reason` for the error counter.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';

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

export async function scrape(dispatcher: Dispatcher, req: ScrapeRequest, stop: AbortSignal): Promise<ScrapeResult> {
  let url: URL;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
  } catch (e) {
    return { ok: false, reason: 'invalid_url', message: (e as Error).message };
  }
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([timeout, stop]);
  const headers: Record<string, string> = { accept: ACCEPT, 'accept-encoding': 'gzip', 'user-agent': 'telekit-prom', ...req.headers };
  const token = req.token?.();
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await request(url, { dispatcher, method: 'GET', headers, signal, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs });
    // destroying the body (size limit, abort) emits 'error': never let it become uncaught
    res.body.on('error', () => undefined);
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump().catch(() => undefined);
      return { ok: false, reason: 'http_status', message: `HTTP ${res.statusCode}` };
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > req.maxBytes) {
      res.body.destroy();
      return { ok: false, reason: 'too_large', message: `content-length ${declared} over ${req.maxBytes} bytes` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > req.maxBytes) {
        res.body.destroy();
        return { ok: false, reason: 'too_large', message: `body over ${req.maxBytes} bytes` };
      }
      chunks.push(c as Buffer);
    }
    let buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
    if (enc === 'gzip' || enc === 'deflate') {
      try {
        buf = enc === 'gzip' ? zlib.gunzipSync(buf, { maxOutputLength: req.maxBytes }) : zlib.inflateSync(buf, { maxOutputLength: req.maxBytes });
      } catch (e) {
        const tooLarge = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        return { ok: false, reason: tooLarge ? 'too_large' : 'decode', message: (e as Error).message };
      }
    }
    const ctype = String(res.headers['content-type'] ?? '');
    return { ok: true, text: buf.toString('utf8'), openMetrics: ctype.startsWith('application/openmetrics-text'), bytes: buf.length };
  } catch (e) {
    if (stop.aborted) return { ok: false, reason: 'aborted', message: 'stopped' };
    if (timeout.aborted) return { ok: false, reason: 'timeout', message: `no answer within ${req.timeoutMs} ms` };
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = err.code ?? err.cause?.code ?? '';
    if (/TIMEOUT/i.test(code)) return { ok: false, reason: 'timeout', message: err.message };
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return { ok: false, reason: 'tls', message: `${code}: ${err.message}` };
    return { ok: false, reason: 'connect', message: `${code ? `${code}: ` : ''}${err.message}` };
  }
}
