/**
 * The agent's HTTP server (fastify). Core endpoints are fastify routes; input
 * endpoints live in a dispatch table ({@link HttpRoutes}) so inputs can come
 * and go on hot reload while the server keeps listening. Every body arrives as
 * a Buffer; gzip/deflate bodies are inflated here with a size cap, so inputs
 * never see compressed data and a zip bomb costs nothing.
 *
 * Bounded against slow or huge clients: a request must arrive (headers, then
 * the whole body) within its timeouts and idle keep-alive connections are
 * closed; a body is admitted before it is read — over its route's limit 413,
 * over the global budget of body bytes in flight ({@link BodyBudget}) or while
 * the agent sheds load 503 + Retry-After — and such answers close the
 * connection instead of reading what the client still sends.
 *
 * `buildServer()` returns the app without binding: tests may use `inject()`.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { BodyBudget, type Reservation } from './body-budget.js';
import type { HttpHandler, HttpResponse, HttpRoutes, RouteOptions } from './http-routes.js';
import type { CoreMetrics } from '../telemetry/metrics.js';
import { redactUrl } from '../telemetry/redact.js';
import { installCors, type Cors } from './cors.js';
import { TallyCells } from '../telemetry/tally.js';

const gunzip = promisify(zlib.gunzip);

/**
 * fastify's schema compilers (ajv and fast-json-stringify, ~390 KiB of code and ~1.2 MiB of heap once loaded),
 * loaded on the first route that has a schema. None of the agent's routes has one, so an agent never loads them:
 * fastify would otherwise require both when the app is built (BENCHMARKS.md, "Memory: the idle agent, session 7").
 * The bundle (scripts/bundle.mjs) keeps both packages external, so they are not even parsed.
 */
type CompilerFactory = (...args: unknown[]) => unknown;
/** fastify's own dependencies, resolved from fastify's folder as fastify itself would (not hoisted by npm everywhere). */
const load = (id: string): unknown => {
  const here = createRequire(import.meta.url);
  return createRequire(here.resolve('fastify'))(id);
};
let validatorSelector: CompilerFactory | undefined;
let serializerSelector: CompilerFactory | undefined;
const lazyCompilers = {
  buildValidator: (...a: unknown[]) => (validatorSelector ??= (load('@fastify/ajv-compiler') as () => CompilerFactory)())(...a),
  buildSerializer: (...a: unknown[]) => (serializerSelector ??= (load('@fastify/fast-json-stringify-compiler') as () => CompilerFactory)())(...a),
};
const inflate = promisify(zlib.inflate);

export interface ServerTimeouts {
  /** The whole request (headers and body) must arrive within this (ENV_HTTP_TIMEOUT). */
  requestMs: number;
  /** The headers must arrive within this. */
  headersMs: number;
  /** An idle keep-alive connection is closed after this. */
  idleMs: number;
}

export interface ServerOptions {
  /** Largest body of any route (a route may set a smaller one). */
  bodyLimit: number;
  /** Request body bytes held at once across all connections (0: no budget). */
  bodyBudget?: number;
  timeouts?: ServerTimeouts;
  metrics: CoreMetrics;
  log: Logger;
  /** True while the agent sheds load (memory limit): input routes answer 503. */
  overloaded: () => boolean;
  /** Origins browsers may call from (cors.ts); empty or absent = any. */
  corsOrigins?: readonly string[];
}

interface Entry {
  handler: HttpHandler;
  bodyLimit: number;
}

/** Body limit of the agent's own fastify routes (/v1/ping, /metrics, /v1/stats: GET only). */
const CORE_BODY_LIMIT = 64 << 10;
/** How long close() lets requests in progress finish before it closes their connections. */
const CLOSE_GRACE_MS = 2000;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes this request holds in the budget. */
    budget?: Reservation;
    /** The body limit of the route the request goes to. */
    limit?: number;
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AgentServer implements HttpRoutes {
  readonly app: FastifyInstance;
  /** path → method → entry */
  private readonly table = new Map<string, Map<string, Entry>>();
  readonly budget: BodyBudget | undefined;
  private readonly cors: Cors;
  /** telekit_http_requests_total of the lean path (`<code> <route>`), kept as numbers until read. */
  private readonly requestsBy: TallyCells<'route' | 'code'>;
  /** Set when fastify starts closing: requests then go through fastify (503 while closing). */
  private closing = false;

  constructor(private readonly o: ServerOptions) {
    const t = o.timeouts;
    this.app = Fastify({
      logger: false,
      bodyLimit: o.bodyLimit,
      schemaController: { compilersFactory: lazyCompilers as never },
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      // Node checks request and header timeouts every connectionsCheckingInterval (30 s by default).
      // Input routes are served by the lean path (serveDirect) before fastify sees the request.
      serverFactory: (handler) =>
        http.createServer(
          t
            ? { requestTimeout: t.requestMs, headersTimeout: Math.min(t.headersMs, t.requestMs || t.headersMs), keepAliveTimeout: t.idleMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor((t.requestMs || t.headersMs) / 4))) }
            : {},
          (req, res) => {
            if (!this.serveDirect(req, res)) handler(req, res);
          },
        ),
    });
    if (t) this.app.server.setTimeout(t.requestMs); // a socket silent this long is closed, even inside a handler
    this.requestsBy = new TallyCells(o.metrics.httpRequests, (k) => ({ code: k.slice(0, k.indexOf(' ')), route: k.slice(k.indexOf(' ') + 1) }));
    this.budget = o.bodyBudget ? new BodyBudget({ totalBytes: o.bodyBudget }) : undefined;
    if (this.budget) {
      const budget = this.budget;
      new Gauge({ name: 'telekit_http_body_bytes_in_flight', help: 'Request body bytes held in memory across all connections (bounded by ENV_HTTP_MAX_BODY_BYTES_IN_FLIGHT).', registers: [o.metrics.registry], collect() { this.set(budget.inFlight); } });
    }
    this.cors = installCors(this.app, { origins: o.corsOrigins ?? [], registry: o.metrics.registry });
    this.app.addHook('preClose', (done) => {
      this.closing = true;
      done();
    });
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', (req, payload, done) => this.readBody(req, payload, done));
    this.app.addHook('onRequest', (req, reply, done) => this.admit(req, reply, done));
    this.app.setErrorHandler((err: Error & { statusCode?: number; retryAfter?: number; close?: boolean }, req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500 && status !== 503) o.log.error({ err, url: redactUrl(req.url) }, 'HTTP handler failed');
      o.metrics.httpRequests.inc({ route: this.routeLabel(req), code: String(status) });
      if (err.retryAfter) void reply.header('retry-after', String(err.retryAfter));
      if (err.close) void reply.header('connection', 'close');
      void reply.code(status).send({ error: err.message });
    });
    this.app.all('/*', (req, reply) => this.dispatch(req, reply));
  }

  private entryOf(req: FastifyRequest): Entry | undefined {
    return this.table.get(splitUrl(req.url)[0])?.get(req.method);
  }

  /**
   * Before the body is read: the route's limit against the declared length
   * (413), the load shedding and the budget (503 + Retry-After). Refused
   * requests close their connection: the body is never read.
   */
  private admit(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    const h = req.headers;
    const hasBody = h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
    if (!hasBody) return done();
    const entry = this.entryOf(req);
    const core = !entry && req.routeOptions.url !== '/*';
    req.limit = entry ? entry.bodyLimit : core ? CORE_BODY_LIMIT : 0;
    const refuse = (status: number, message: string, retryAfter?: number) => {
      this.o.metrics.httpRequests.inc({ route: entry ? splitUrl(req.url)[0] : 'unmatched', code: String(status) });
      void reply.code(status).header('connection', 'close');
      if (retryAfter) void reply.header('retry-after', String(retryAfter));
      void reply.send({ error: message });
    };
    if (!entry && !core) {
      // No route: answered without reading the body.
      const path = splitUrl(req.url)[0];
      const byMethod = this.table.get(path);
      return refuse(byMethod ? 405 : 404, byMethod ? `method ${req.method} not allowed on ${path}` : `no route for ${req.method} ${path}`);
    }
    const declared = h['content-length'] !== undefined ? Number(h['content-length']) : undefined;
    if (declared !== undefined && declared > req.limit) return refuse(413, `body of ${declared} bytes exceeds the limit of ${req.limit} for this route`);
    if (entry && this.o.overloaded()) return refuse(503, 'agent is over its memory limit; retry later', 1);
    if (this.budget) {
      const r = this.budget.open();
      reply.raw.once('close', () => r.release());
      req.budget = r;
      if (declared !== undefined && !r.grow(declared)) return refuse(503, `too many request bytes in flight (${this.budget.inFlight} of ${this.budget.o.totalBytes}); retry later`, 1);
    }
    done();
  }

  /** Reads a body into one Buffer (collectBody), for fastify's content-type parser. */
  private readBody(req: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: Buffer) => void): void {
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    collectBody(payload, { limit: req.limit ?? this.o.bodyLimit, declared, budget: req.budget }, (f, body) => {
      if (f) return done(Object.assign(new HttpError(f.status, f.message), { statusCode: f.status, retryAfter: f.retryAfter, close: true }));
      done(null, body);
    });
  }

  private routeLabel(req: FastifyRequest): string {
    const path = req.url.split('?')[0]!;
    return this.table.has(path) ? path : (req.routeOptions.url ?? 'unmatched') === '/*' ? 'unmatched' : (req.routeOptions.url ?? 'unmatched');
  }

  route(methods: string[], path: string, handler: HttpHandler, opts: RouteOptions = {}): () => void {
    const byMethod = this.table.get(path) ?? new Map<string, Entry>();
    for (const m of methods) {
      if (byMethod.has(m.toUpperCase())) throw new Error(`HTTP route ${m.toUpperCase()} ${path} is already registered`);
    }
    const entry: Entry = { handler, bodyLimit: Math.min(opts.bodyLimit ?? this.o.bodyLimit, this.o.bodyLimit) };
    for (const m of methods) byMethod.set(m.toUpperCase(), entry);
    this.table.set(path, byMethod);
    return () => {
      for (const m of methods) if (byMethod.get(m.toUpperCase()) === entry) byMethod.delete(m.toUpperCase());
      if (byMethod.size === 0 && this.table.get(path) === byMethod) this.table.delete(path);
    };
  }

  /**
   * Inflates a gzip/deflate body with a cap on the inflated size; with a
   * budget reservation, the inflated bytes are reserved too (503 when they do not fit).
   */
  static async decodeBody(raw: Buffer, encoding: string | undefined, limit: number, budget?: Reservation): Promise<Buffer> {
    const enc = (encoding ?? '').trim().toLowerCase();
    if (isIdentity(enc)) {
      if (raw.length > limit) throw new HttpError(413, `body of ${raw.length} bytes exceeds the limit of ${limit}`);
      return raw;
    }
    if (enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate') throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(enc)}`);
    const cap = Math.min(limit, budget ? budget.room() : Infinity);
    let out: Buffer;
    try {
      out = await (enc === 'deflate' ? inflate : gunzip)(raw, { maxOutputLength: Math.max(1, cap) });
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|maxOutputLength/i.test(err.message)) {
        if (cap < limit) throw Object.assign(new HttpError(503, 'too many request bytes in flight; retry later'), { retryAfter: 1 });
        throw new HttpError(413, `decompressed body exceeds the limit of ${limit} bytes`);
      }
      throw new HttpError(400, `invalid ${enc} body: ${err.message}`);
    }
    if (budget && !budget.grow(out.length)) throw Object.assign(new HttpError(503, 'too many request bytes in flight; retry later'), { retryAfter: 1 });
    return out;
  }

  /**
   * Runs a route's handler on a read body: the answer, with handler errors
   * mapped (HttpError → its status, others 500). Synchronous when the body
   * needs no inflating and the handler answers at once (a beacon: no promise
   * and no microtask between its last byte and its answer).
   */
  private respond(entry: Entry, method: string, path: string, qs: string, headers: http.IncomingHttpHeaders, raw: Buffer, remoteAddress: string, budget: Reservation | undefined): HttpResponse | Promise<HttpResponse> {
    try {
      if (method !== 'GET' && method !== 'HEAD' && this.o.overloaded()) {
        throw Object.assign(new HttpError(503, 'agent is over its memory limit; retry later'), { retryAfter: 1 });
      }
      const encoding = headers['content-encoding'];
      if (encoding !== undefined && !isIdentity(encoding)) return this.respondInflated(entry, method, path, qs, headers, raw, remoteAddress, budget, encoding);
      if (raw.length > entry.bodyLimit) throw new HttpError(413, `body of ${raw.length} bytes exceeds the limit of ${entry.bodyLimit}`);
      const r = entry.handler({ method, path, query: parseQuery(qs), headers, body: raw, remoteAddress });
      return r instanceof Promise ? r.catch((e: unknown) => this.failure(e, path)) : r;
    } catch (e) {
      return this.failure(e, path);
    }
  }

  private async respondInflated(entry: Entry, method: string, path: string, qs: string, headers: http.IncomingHttpHeaders, raw: Buffer, remoteAddress: string, budget: Reservation | undefined, encoding: string): Promise<HttpResponse> {
    try {
      const body = await AgentServer.decodeBody(raw, encoding, entry.bodyLimit, budget);
      return await entry.handler({ method, path, query: parseQuery(qs), headers, body, remoteAddress });
    } catch (e) {
      return this.failure(e, path);
    }
  }

  /** A handler's error as the answer: HttpError → its status (and Retry-After), anything else 500 (logged). */
  private failure(e: unknown, path: string): HttpResponse {
    if (e instanceof HttpError) {
      return { status: e.status, body: { error: e.message }, headers: 'retryAfter' in e ? { 'retry-after': String((e as { retryAfter: number }).retryAfter) } : undefined };
    }
    this.o.log.error({ err: e, path }, 'HTTP input handler failed');
    return { status: 500, body: { error: 'internal error' } };
  }

  /** fastify's route for input paths: used by inject() and while closing (the sockets' requests take serveDirect). */
  private async dispatch(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const [path, qs] = splitUrl(req.url);
    const byMethod = this.table.get(path);
    const entry = byMethod?.get(req.method);
    if (!entry) {
      const status = byMethod ? 405 : 404;
      this.o.metrics.httpRequests.inc({ route: 'unmatched', code: String(status) });
      void reply.code(status).send({ error: status === 404 ? `no route for ${req.method} ${path}` : `method ${req.method} not allowed on ${path}` });
      return;
    }
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const res = await this.respond(entry, req.method, path, qs, req.headers, raw, req.ip, req.budget);
    this.o.metrics.httpRequests.inc({ route: path, code: String(res.status) });
    reply.code(res.status);
    if (res.headers) void reply.headers(res.headers);
    const b = res.body;
    if (b === undefined) void reply.send();
    else if (typeof b === 'string' || Buffer.isBuffer(b)) void reply.send(b);
    else void reply.type('application/json').send(JSON.stringify(b));
  }

  /**
   * The lean path for input routes on the socket: the same admission (CORS
   * headers, 413 on the declared length, load shedding, the body budget), body
   * limit and handler as fastify's route, without fastify's routing, hooks and
   * reply machinery — a RUM beacon or a trace batch is one small request among
   * thousands a second, and that per-request cost was a large share of the
   * agent's CPU (bench/rum). False: not an input route (or a preflight, or the
   * server is closing): fastify serves it.
   */
  private serveDirect(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (this.closing || req.method === 'OPTIONS') return false;
    const url = req.url ?? '/';
    const [path, qs] = splitUrl(url);
    const entry = this.table.get(path)?.get(req.method ?? '');
    if (!entry) return false;
    const h = req.headers;
    const extra: Record<string, string> = {};
    const origin = h.origin;
    if (typeof origin === 'string' && origin !== '') {
      extra.vary = 'Origin';
      if (this.cors.allows(origin)) {
        extra['access-control-allow-origin'] = origin;
        extra['access-control-allow-credentials'] = 'true';
      }
    }
    const send = (r: HttpResponse, close = false) => {
      this.requestsBy.inc(`${r.status} ${path}`);
      const headers: Record<string, string> = { ...extra, ...r.headers };
      if (close) headers.connection = 'close';
      const b = r.body;
      let payload: string | Buffer;
      if (b === undefined) payload = '';
      else if (typeof b === 'string') {
        payload = b;
        headers['content-type'] ??= 'text/plain; charset=utf-8';
      } else if (Buffer.isBuffer(b)) {
        payload = b;
        headers['content-type'] ??= 'application/octet-stream';
      } else {
        payload = JSON.stringify(b);
        headers['content-type'] = 'application/json; charset=utf-8';
      }
      headers['content-length'] = String(Buffer.byteLength(payload));
      if (res.headersSent || res.destroyed) return;
      res.writeHead(r.status, headers);
      res.end(payload);
    };
    const refuse = (status: number, message: string, retryAfter?: number) => {
      req.pause();
      send({ status, body: { error: message }, headers: retryAfter ? { 'retry-after': String(retryAfter) } : undefined }, true);
    };
    const hasBody = h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
    const limit = entry.bodyLimit;
    const declared = h['content-length'] !== undefined ? Number(h['content-length']) : undefined;
    let budget: Reservation | undefined;
    if (hasBody) {
      if (declared !== undefined && declared > limit) return (refuse(413, `body of ${declared} bytes exceeds the limit of ${limit} for this route`), true);
      if (this.o.overloaded()) return (refuse(503, 'agent is over its memory limit; retry later', 1), true);
      if (this.budget) {
        const r = (budget = this.budget.open());
        res.once('close', () => r.release());
        if (declared !== undefined && !r.grow(declared)) return (refuse(503, `too many request bytes in flight (${this.budget.inFlight} of ${this.budget.o.totalBytes}); retry later`, 1), true);
      }
    }
    const run = (raw: Buffer) => {
      const r = this.respond(entry, req.method!, path, qs, h, raw, req.socket.remoteAddress ?? '', budget);
      if (r instanceof Promise) void r.then(send);
      else send(r);
    };
    if (!hasBody) {
      req.resume();
      req.once('end', () => run(Buffer.alloc(0)));
      return true;
    }
    if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) return (refuse(400, `invalid Content-Length ${JSON.stringify(h['content-length'])}`), true);
    collectBody(req, { limit, declared, budget }, (f, body) => (f ? refuse(f.status, f.message, f.retryAfter) : run(body!)));
    return true;
  }

  async listen(host: string, port: number): Promise<string> {
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    if (addr === null || typeof addr === 'string') return String(addr);
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '127.0.0.1' : h}:${addr.port}`;
  }

  /** Stops accepting; requests in progress get a short grace, then their connections are closed. */
  async close(): Promise<void> {
    const t = setTimeout(() => this.app.server.closeAllConnections(), CLOSE_GRACE_MS);
    try {
      await this.app.close();
    } finally {
      clearTimeout(t);
    }
  }
}

/** Why a body was not read whole: the answer to give. */
interface BodyFailure {
  status: number;
  message: string;
  retryAfter?: number;
}

/**
 * Reads a request body into one Buffer and calls `done` once: a declared
 * length is read into one allocation of that size (a longer or shorter body
 * is a 400); a chunked body is counted against the budget as it arrives (503
 * past it); past the route's limit, 413. On a failure the stream is left
 * paused and its listeners removed.
 */
function collectBody(stream: NodeJS.ReadableStream, o: { limit: number; declared?: number; budget?: Reservation }, done: (f: BodyFailure | null, body?: Buffer) => void): void {
  const { limit, budget, declared } = o;
  // A declared body that arrives as one chunk (a beacon of a few KiB usually does) is that chunk, not copied;
  // from a second chunk on, the chunks are copied into one allocation of the declared size.
  let first: Buffer | undefined;
  let fixed: Buffer | undefined;
  const chunks: Buffer[] = [];
  let got = 0;
  let finished = false;
  const finish = (f: BodyFailure | null, body?: Buffer) => {
    if (finished) return;
    finished = true;
    stream.removeListener('data', onData);
    stream.removeListener('end', onEnd);
    stream.removeListener('close', onClose);
    if (f) stream.pause();
    done(f, body);
  };
  const fail = (status: number, message: string, retryAfter?: number) => finish({ status, message, retryAfter });
  const onData = (c: Buffer) => {
    if (got + c.length > limit) return fail(413, `body exceeds the limit of ${limit} bytes for this route`);
    if (declared !== undefined) {
      if (got + c.length > declared) return fail(400, 'body longer than its Content-Length');
      if (got === 0) first = c;
      else {
        if (!fixed) {
          fixed = Buffer.allocUnsafe(declared);
          first!.copy(fixed, 0);
        }
        c.copy(fixed, got);
      }
    } else {
      if (budget && !budget.grow(c.length)) return fail(503, 'too many request bytes in flight; retry later', 1);
      chunks.push(c);
    }
    got += c.length;
  };
  const onEnd = () => {
    if (declared !== undefined) {
      if (got !== declared) return fail(400, `body of ${got} bytes, ${declared} declared`);
      return finish(null, fixed ?? first ?? Buffer.alloc(0));
    }
    finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got));
  };
  const onClose = () => fail(400, 'connection closed before the body was complete');
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('close', onClose);
  // an aborted body: 'close' answers it (or nobody is left to answer); a decoding error is a 400
  stream.on('error', (e: Error) => fail(400, `body could not be read: ${e.message}`));
}

/** No Content-Encoding to undo ('' or identity, any case and spacing). */
function isIdentity(encoding: string): boolean {
  if (encoding === '' || encoding === 'identity') return true;
  const enc = encoding.trim().toLowerCase();
  return enc === '' || enc === 'identity';
}

/** Parsed query strings of input routes (`precision=ms` on every beacon), kept while few; each request gets its own copy. */
const queries = new Map<string, Readonly<Record<string, string>>>();
const QUERIES_MAX = 256;

/** A query string as an object (the last value of a repeated key), as `Object.fromEntries(new URLSearchParams(qs))`. */
function parseQuery(qs: string): Record<string, string> {
  if (qs === '') return {};
  const known = queries.get(qs);
  if (known !== undefined) return { ...known };
  const q = Object.fromEntries(new URLSearchParams(qs));
  if (qs.length <= 256) {
    if (queries.size >= QUERIES_MAX) queries.clear();
    queries.set(qs, q);
  }
  return { ...q };
}

function splitUrl(url: string): [string, string] {
  const i = url.indexOf('?');
  return i < 0 ? [url, ''] : [url.slice(0, i), url.slice(i + 1)];
}
