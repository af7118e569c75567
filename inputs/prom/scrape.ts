/**
 * One HTTP GET of a metrics endpoint, with a timeout, a response size limit,
 * optional TLS client settings, bearer token and extra headers. Never throws:
 * failures come back classified by a bounded `reason` for the error counter.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { H1Client, type H1Handler, type H1Origin } from './http1.js';

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

/** Builds the GET client of an instance: reads the TLS files (I/O, so call it from start()). */
export function makeClient(tls: TlsOptions | undefined, connections = 4): H1Client {
  const read = (p: string | undefined) => (p ? fs.readFileSync(p) : undefined);
  return new H1Client({
    connections,
    keepAliveMs: 60_000,
    tls: tls ? { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key), rejectUnauthorized: !tls.insecureSkipVerify } : undefined,
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

/** A scrape target's URL parsed and its request's header lines, once per request object (scrapes repeat it every interval). */
interface Target {
  /** The URL, the base of a redirect's Location. */
  url: URL;
  origin: H1Origin;
  path: string;
  /** The header lines after `host` (accept, accept-encoding, user-agent, the configured ones), each ending in CRLF. */
  headers: string;
}
const targets = new WeakMap<ScrapeRequest, Target | ScrapeResult>();

/** A header value or name that would break the request's text. */
const BAD_HEADER = /[\r\n\0]/;

function targetOf(req: ScrapeRequest): Target | ScrapeResult {
  let t = targets.get(req);
  if (t === undefined) {
    let headers = '';
    for (const [k, v] of Object.entries({ accept: ACCEPT, 'accept-encoding': 'gzip', 'user-agent': 'telekit-prom', ...req.headers })) {
      if (BAD_HEADER.test(k) || BAD_HEADER.test(v) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) {
        t = { ok: false, reason: 'connect', message: `invalid header ${JSON.stringify(k)}` };
        break;
      }
      headers += `${k}: ${v}\r\n`;
    }
    t ??= parseTarget(req.url, undefined, headers);
    targets.set(req, t);
  }
  return t;
}

/** A target at `url` (relative to `base`, for a redirect's Location) with the given header lines. */
function parseTarget(url: string, base: URL | undefined, headers: string): Target | Extract<ScrapeResult, { ok: false }> {
  try {
    const u = new URL(url, base);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported scheme ${u.protocol}`);
    const secure = u.protocol === 'https:';
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const origin: H1Origin = { key: u.origin, host, port: Number(u.port || (secure ? 443 : 80)), secure, hostHeader: u.host };
    return { url: u, origin, path: u.pathname + u.search, headers };
  } catch (e) {
    return { ok: false, reason: 'invalid_url', message: (e as Error).message };
  }
}

/** Redirects a scrape follows, as Prometheus and DataKit's Go client do (follow_redirects defaults to true there). */
const MAX_REDIRECTS = 10;
const REDIRECT = new Set([301, 302, 303, 307, 308]);

function classify(e: unknown, timeoutMs: number): ScrapeResult {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err.code ?? err.cause?.code ?? '';
  if (/TIMEOUT/i.test(code)) return { ok: false, reason: 'timeout', message: err.message || `no answer within ${timeoutMs} ms` };
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return { ok: false, reason: 'tls', message: `${code}: ${err.message}` };
  return { ok: false, reason: 'connect', message: `${code ? `${code}: ` : ''}${err.message}` };
}

/**
 * What a stop signal ends: the scrapes in flight under it. A target's signal lives as long as the target and
 * sees a scrape every interval, so it gets one listener for good instead of one added and removed per scrape
 * (an EventTarget's listeners cost more than the rest of a GET's bookkeeping, BENCHMARKS.md session 10).
 */
const inFlight = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(stop: AbortSignal, end: () => void): Set<() => void> {
  let set = inFlight.get(stop);
  if (set === undefined) {
    const ends = (set = new Set());
    stop.addEventListener('abort', () => ends.forEach((f) => f()), { once: true });
    inFlight.set(stop, set);
  }
  set.add(end);
  return set;
}

/**
 * GETs the target through the instance's HTTP/1.1 client (http1.ts): the
 * body is copied in as it comes, one timer, `stop` ends it (BENCHMARKS.md,
 * Prometheus scraping, sessions 6 and 10).
 */
export function scrape(client: H1Client, req: ScrapeRequest, stop: AbortSignal): Promise<ScrapeResult> {
  const target = targetOf(req);
  if ('ok' in target) return Promise.resolve(target);
  if (stop.aborted) return Promise.resolve({ ok: false, reason: 'aborted', message: 'stopped' });
  const token = req.token?.();
  let auth = '';
  if (token) {
    if (BAD_HEADER.test(token)) return Promise.resolve({ ok: false, reason: 'connect', message: 'invalid bearer token' });
    auth = `authorization: Bearer ${token}\r\n`;
  }
  return new Promise<ScrapeResult>((resolve) => {
    /** the body, copied in as it comes (sized by content-length when there is one) */
    let body: Buffer | undefined;
    let size = 0;
    /** the status when it is not 2xx: the body is read away, then the scrape fails (or follows a redirect) */
    let badStatus = 0;
    let ctype = '';
    let enc = '';
    /** a redirect's Location, followed once its body was read away */
    let location = '';
    let hops = 0;
    let at = target;
    let done = false;
    const finish = (r: ScrapeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ends.delete(onStop);
      resolve(r);
    };
    /** Ends the scrape with a failure and drops the GET's connection. */
    const fail = (reason: ScrapeFailure, message: string): false => {
      finish({ ok: false, reason, message });
      call?.abort();
      return false;
    };
    const timer = setTimeout(() => fail('timeout', `no answer within ${req.timeoutMs} ms`), req.timeoutMs);
    const onStop = (): void => void fail('aborted', 'stopped');
    const ends = onAbort(stop, onStop);
    let call: { abort(): void } | undefined;
    const handler: H1Handler = {
      onHead(status, length, contentType, contentEncoding, loc) {
        if (status < 200 || status >= 300) {
          // the body is read away (the connection stays usable)
          badStatus = status;
          if (REDIRECT.has(status)) location = loc;
          return true;
        }
        if (length > req.maxBytes) return fail('too_large', `content-length ${length} over ${req.maxBytes} bytes`);
        if (length > 0) body = Buffer.allocUnsafe(length);
        ctype = contentType;
        enc = contentEncoding.toLowerCase();
        return true;
      },
      onData(chunk) {
        size += chunk.length;
        if (badStatus !== 0) return size > req.maxBytes ? fail('http_status', `HTTP ${badStatus}`) : true;
        if (size > req.maxBytes) return fail('too_large', `body over ${req.maxBytes} bytes`);
        if (body === undefined || body.length < size) {
          const bigger = Buffer.allocUnsafe(Math.min(req.maxBytes, Math.max(size, 2 * (body?.length ?? 32 << 10))));
          body?.copy(bigger, 0, 0, size - chunk.length);
          body = bigger;
        }
        body.set(chunk, size - chunk.length);
        return true;
      },
      onEnd() {
        if (location !== '') return follow();
        if (badStatus !== 0) return finish({ ok: false, reason: 'http_status', message: `HTTP ${badStatus}` });
        let buf = body === undefined ? Buffer.alloc(0) : body.subarray(0, size);
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
      onError(err) {
        finish(classify(err, req.timeoutMs));
      },
    };
    /** GETs the redirect's Location, within the same timeout; the bearer token only goes to the same host. */
    const follow = (): void => {
      if (++hops > MAX_REDIRECTS) return void finish({ ok: false, reason: 'http_status', message: `HTTP ${badStatus}: more than ${MAX_REDIRECTS} redirects` });
      const next = parseTarget(location, at.url, at.headers);
      if ('ok' in next) return void finish({ ok: false, reason: 'http_status', message: `HTTP ${badStatus}: bad Location ${JSON.stringify(location)} (${next.message})` });
      if (next.url.hostname !== target.url.hostname) auth = '';
      at = next;
      body = undefined;
      size = badStatus = 0;
      ctype = enc = location = '';
      call = client.get(at.origin, at.path, at.headers + auth, handler);
    };
    call = client.get(at.origin, at.path, at.headers + auth, handler);
    if (done) call.abort();
  });
}
