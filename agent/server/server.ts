/**
 * The agent's HTTP server (fastify). Core endpoints are fastify routes; input
 * endpoints live in a dispatch table ({@link HttpRoutes}) so inputs can come
 * and go on hot reload while the server keeps listening. Every body arrives as
 * a Buffer; gzip/deflate bodies are inflated here with a size cap, so inputs
 * never see compressed data and a zip bomb costs nothing.
 *
 * `buildServer()` returns the app without binding: tests may use `inject()`.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpHandler, HttpRequest, HttpResponse, HttpRoutes, RouteOptions } from './http-routes.js';
import type { CoreMetrics } from '../telemetry/metrics.js';
import { installCors } from './cors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export interface ServerOptions {
  bodyLimit: number;
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

  constructor(private readonly o: ServerOptions) {
    this.app = Fastify({ logger: false, bodyLimit: o.bodyLimit, return503OnClosing: true, forceCloseConnections: 'idle' });
    installCors(this.app, { origins: o.corsOrigins ?? [], registry: o.metrics.registry });
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    this.app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500) o.log.error({ err, url: req.url }, 'HTTP handler failed');
      o.metrics.httpRequests.inc({ route: this.routeLabel(req), code: String(status) });
      void reply.code(status).send({ error: err.message });
    });
    this.app.all('/*', (req, reply) => this.dispatch(req, reply));
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

  /** Inflates a gzip/deflate body with a cap on the inflated size. */
  static async decodeBody(raw: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
    const enc = (encoding ?? '').trim().toLowerCase();
    if (enc === '' || enc === 'identity') {
      if (raw.length > limit) throw new HttpError(413, `body of ${raw.length} bytes exceeds the limit of ${limit}`);
      return raw;
    }
    if (enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate') throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(enc)}`);
    try {
      return await (enc === 'deflate' ? inflate : gunzip)(raw, { maxOutputLength: limit });
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|maxOutputLength/i.test(err.message)) {
        throw new HttpError(413, `decompressed body exceeds the limit of ${limit} bytes`);
      }
      throw new HttpError(400, `invalid ${enc} body: ${err.message}`);
    }
  }

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
    let res: HttpResponse;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD' && this.o.overloaded()) {
        throw Object.assign(new HttpError(503, 'agent is over its memory limit; retry later'), { retryAfter: 1 });
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const body = await AgentServer.decodeBody(raw, req.headers['content-encoding'], entry.bodyLimit);
      const hreq: HttpRequest = { method: req.method, path, query: Object.fromEntries(new URLSearchParams(qs)), headers: req.headers, body, remoteAddress: req.ip };
      res = await entry.handler(hreq);
    } catch (e) {
      if (e instanceof HttpError) {
        res = { status: e.status, body: { error: e.message }, headers: 'retryAfter' in e ? { 'retry-after': String((e as { retryAfter: number }).retryAfter) } : undefined };
      } else {
        this.o.log.error({ err: e, path }, 'HTTP input handler failed');
        res = { status: 500, body: { error: 'internal error' } };
      }
    }
    this.o.metrics.httpRequests.inc({ route: path, code: String(res.status) });
    reply.code(res.status);
    if (res.headers) void reply.headers(res.headers);
    const b = res.body;
    if (b === undefined) void reply.send();
    else if (typeof b === 'string' || Buffer.isBuffer(b)) void reply.send(b);
    else void reply.type('application/json').send(JSON.stringify(b));
  }

  async listen(host: string, port: number): Promise<string> {
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    if (addr === null || typeof addr === 'string') return String(addr);
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '127.0.0.1' : h}:${addr.port}`;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

function splitUrl(url: string): [string, string] {
  const i = url.indexOf('?');
  return i < 0 ? [url, ''] : [url.slice(0, i), url.slice(i + 1)];
}
