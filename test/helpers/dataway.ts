/**
 * A local HTTP server that acts as the dataway in tests: it records every
 * request, decodes gzip + line protocol (v1) or protobuf points (v2), and can
 * be told how to answer (503s, 400s, slow answers).
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { decodeLines, type DecodedPoint } from '../../agent/model/lineproto.js';
import { decodePBPoints } from '../../agent/model/pbpoint.js';
import { waitFor } from './wait.js';

export interface DatawayRequest {
  method: string;
  path: string;
  category: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Decompressed body. */
  body: Buffer;
  /** Status the test dataway answered. */
  status: number;
}

export interface RecordedPoint extends DecodedPoint {
  category: string;
}

export type Responder = (req: DatawayRequest) => { status: number; body?: string; delayMs?: number } | undefined;

export class TestDataway {
  readonly requests: DatawayRequest[] = [];
  private accepted: RecordedPoint[] = [];
  private responder: Responder | undefined;
  private constructor(
    private readonly server: http.Server,
    /** Base URL with `?token=tkn_test`, as ENV_DATAWAY takes it. */
    readonly url: string,
  ) {}

  static async start(token = 'tkn_test'): Promise<TestDataway> {
    let self: TestDataway | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void self!.handle(req, Buffer.concat(chunks), res));
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    self = new TestDataway(server, `http://127.0.0.1:${port}?token=${token}`);
    return self;
  }

  /** Sets how the next requests are answered; return undefined for the default 200. */
  respond(fn: Responder | undefined): void {
    this.responder = fn;
  }

  private async handle(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    let body = raw;
    try {
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(raw);
    } catch {
      res.writeHead(400).end('bad gzip');
      return;
    }
    const m = /^\/v1\/write\/([a-z_]+)$/.exec(u.pathname);
    const r: DatawayRequest = { method: req.method ?? '', path: u.pathname, category: m?.[1] ?? '', query: u.searchParams, headers: req.headers, body, status: 200 };
    const answer = this.responder?.(r);
    if (answer?.delayMs) await new Promise((x) => setTimeout(x, answer.delayMs));
    r.status = answer?.status ?? 200;
    this.requests.push(r);
    if (r.status === 200 && m) {
      const ct = String(req.headers['content-type'] ?? '');
      const pts = ct.startsWith('application/protobuf') ? decodePBPoints(body) : decodeLines(body.toString('utf8'));
      for (const p of pts) this.accepted.push({ ...p, category: m[1]! });
    }
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(answer?.body ?? '{}');
  }

  /** Points the dataway answered 200 for, optionally of one category and measurement. */
  points(category?: string, name?: string): RecordedPoint[] {
    return this.accepted.filter((p) => (category === undefined || p.category === category) && (name === undefined || p.name === name));
  }

  /** Waits until `pred` holds over the accepted points of `category`, returns them. */
  async waitForPoints(
    category: string,
    pred: number | ((pts: RecordedPoint[]) => boolean),
    opts: { name?: string; timeoutMs?: number } = {},
  ): Promise<RecordedPoint[]> {
    const test = typeof pred === 'number' ? (p: RecordedPoint[]) => p.length >= pred : pred;
    try {
      return await waitFor(
        () => {
          const pts = this.points(category, opts.name);
          return test(pts) ? pts : undefined;
        },
        { timeoutMs: opts.timeoutMs ?? 15_000, what: `points in ${category}${opts.name ? `/${opts.name}` : ''}` },
      );
    } catch (e) {
      // say what did arrive: a timeout alone does not tell which point was missing
      const seen = new Map<string, number>();
      for (const p of this.points(category, opts.name)) seen.set(p.name, (seen.get(p.name) ?? 0) + 1);
      throw new Error(`${(e as Error).message}; received ${JSON.stringify(Object.fromEntries(seen))}`);
    }
  }

  clear(): void {
    this.accepted = [];
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
