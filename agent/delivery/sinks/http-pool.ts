/**
 * Keep-alive POSTs to one origin over node:http / node:https: what the dataway
 * sink needs from an HTTP client (a bounded number of connections, timeouts,
 * an abort signal, a bounded answer body, close that waits for requests in
 * flight), in place of undici's Pool. undici was the largest module an idle
 * agent loaded (~4.7 MiB of V8 heap, ~1.1 MiB of source; BENCHMARKS.md
 * "Memory: the idle agent and start-up"); node:http is part of the binary.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpPoolOptions {
  /** Most connections open at once; more requests wait for one. */
  connections: number;
  /** An idle kept-alive connection is closed after this long. */
  keepAliveMs: number;
  /** Connecting (TCP and TLS) may take this long. */
  connectTimeoutMs: number;
  /** The connection may be silent this long, waiting for the answer's headers or between its body's chunks. */
  idleTimeoutMs: number;
  /** The answer's body is read up to this many bytes (the rest is discarded); it is only used in log lines. */
  maxAnswerBytes?: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The answer's body as text, cut at {@link HttpPoolOptions.maxAnswerBytes}. */
  text: string;
}

/** An error of the connection or the exchange, with a `code` a log line can show (ECONNREFUSED, ETIMEDOUT, …). */
export class HttpPoolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpPoolError';
  }
}

export class HttpPool {
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private readonly host: string;
  private readonly port: number | undefined;
  private readonly inFlight = new Set<http.ClientRequest>();
  private idle: (() => void) | undefined;

  constructor(
    origin: string,
    private readonly o: HttpPoolOptions,
  ) {
    const u = new URL(origin);
    const secure = u.protocol === 'https:';
    this.mod = secure ? https : http;
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = u.port ? Number(u.port) : undefined;
    const opts: http.AgentOptions = { keepAlive: true, maxSockets: o.connections, timeout: o.keepAliveMs, scheduling: 'lifo' };
    this.agent = secure ? new https.Agent(opts) : new http.Agent(opts);
  }

  request(method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined, signal?: AbortSignal): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (signal?.aborted) return reject(new HttpPoolError('ABORT_ERR', 'the request was aborted'));
      const h: Record<string, string> = {};
      for (const k in headers) if (k.toLowerCase() !== 'content-length') h[k] = headers[k]!;
      if (body) h['content-length'] = String(body.length);
      const req = this.mod.request({ agent: this.agent, host: this.host, port: this.port, method, path, headers: h });
      this.inFlight.add(req);
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (e: Error): void => void req.destroy(e);
      const onAbort = (): void => fail(new HttpPoolError('ABORT_ERR', 'the request was aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        this.inFlight.delete(req);
        if (this.inFlight.size === 0) this.idle?.();
      };
      req.on('socket', (socket) => {
        if ((socket as { connecting?: boolean }).connecting) {
          connectTimer = setTimeout(() => fail(new HttpPoolError('CONNECT_TIMEOUT', `no connection within ${this.o.connectTimeoutMs} ms`)), this.o.connectTimeoutMs);
          socket.once('connect', () => clearTimeout(connectTimer));
        }
      });
      req.setTimeout(this.o.idleTimeoutMs, () => fail(new HttpPoolError('TIMEOUT', `no answer for ${this.o.idleTimeoutMs} ms`)));
      req.on('error', (e: Error & { code?: string }) => {
        done();
        reject(e instanceof HttpPoolError ? e : new HttpPoolError(e.code ?? e.name, e.message));
      });
      req.on('response', (res) => {
        const max = this.o.maxAnswerBytes ?? 64 << 10;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < max) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          done();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).subarray(0, max).toString('utf8') });
        });
        res.on('error', (e: Error & { code?: string }) => {
          done();
          reject(e instanceof HttpPoolError ? e : new HttpPoolError(e.code ?? e.name, e.message));
        });
      });
      req.end(body);
    });
  }

  /** Resolves once no request is in flight, then closes the idle connections. */
  async close(): Promise<void> {
    if (this.inFlight.size > 0) await new Promise<void>((r) => (this.idle = r));
    this.agent.destroy();
  }

  /** Ends every request in flight and every connection now. */
  destroy(): void {
    for (const req of this.inFlight) req.destroy(new HttpPoolError('CLOSED', 'the sink was closed'));
    this.agent.destroy();
  }
}
