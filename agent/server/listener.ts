/**
 * An input's optional own HTTP server (zipkin on 9411, opentelemetry on 4318:
 * the ports senders use by default), for senders that cannot be pointed at
 * the agent's port. It does what the
 * agent's server does for routes: body limit (413), gzip/deflate bodies with a
 * decompressed-size cap (400 on bad gzip), then calls the input's handler.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { HttpRequest, HttpResponse } from './http-routes.js';

export function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i <= 0 ? '0.0.0.0' : s.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(i < 0 ? s : s.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(s)}`);
  return { host, port };
}

export class RouteListener {
  private server: http.Server | undefined;
  address: string | undefined;

  constructor(
    private readonly listen: string,
    private readonly bodyLimit: number,
    private readonly handler: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>,
  ) {}

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.listen);
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = `${a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeIdleConnections();
    const done = new Promise<void>((r) => s.close(() => r()));
    setTimeout(() => s.closeAllConnections(), 2000).unref();
    await done;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (r: HttpResponse) => {
      const body = r.body === undefined ? '' : typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : JSON.stringify(r.body);
      const headers: Record<string, string> = { ...(r.headers ?? {}) };
      if (r.body !== undefined && typeof r.body === 'object' && !Buffer.isBuffer(r.body)) headers['content-type'] = 'application/json';
      if (!res.headersSent) res.writeHead(r.status, headers).end(body);
    };
    if (req.method !== 'POST') {
      req.resume();
      send({ status: 405, headers: { allow: 'POST' }, body: 'only POST is accepted\n' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('error', () => undefined);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.bodyLimit) {
        if (!over) send({ status: 413, body: `body over ${this.bodyLimit} bytes\n` });
        over = true;
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      let body = Buffer.concat(chunks);
      const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
      try {
        if (enc === 'gzip') body = zlib.gunzipSync(body, { maxOutputLength: this.bodyLimit });
        else if (enc === 'deflate') body = zlib.inflateSync(body, { maxOutputLength: this.bodyLimit });
      } catch {
        send({ status: 400, body: `cannot decompress ${enc} body (or over ${this.bodyLimit} bytes)\n` });
        return;
      }
      const u = new URL(req.url ?? '/', 'http://x');
      const query: Record<string, string> = {};
      u.searchParams.forEach((v, k) => (query[k] = v));
      Promise.resolve()
        .then(() => this.handler({ method: req.method ?? '', path: u.pathname, query, headers: req.headers, body, remoteAddress: req.socket.remoteAddress ?? '' }))
        .then(send, () => send({ status: 500, body: 'internal error\n' }));
    });
  }
}
