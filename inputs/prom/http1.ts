/**
 * A small HTTP/1.1 client for scrapes: GET only, keep-alive connections per
 * origin (at most `connections`, further GETs wait in order), bodies framed by
 * content-length, chunked transfer coding or the connection's end, over TCP or
 * TLS. It does what a scrape needs and nothing else (no redirects, no
 * pipelining, no request body), so a GET costs a request string written, the
 * response head parsed once and its reads handed over without the stream
 * machinery (net's `onread`): about half of undici's dispatch() CPU per GET, and
 * undici's ~5 MiB of heap and code are not loaded (BENCHMARKS.md, Prometheus
 * scraping, session 10).
 */
import net from 'node:net';
import tls from 'node:tls';

/** Where a GET goes: a parsed URL's parts. */
export interface H1Origin {
  /** `http://host:port` or `https://...`: the pool's key. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** The `host` header: the URL's host, with its port when not the scheme's default. */
  readonly hostHeader: string;
}

/** What a GET's caller is told, in order: the head, the body's chunks, then the end; or an error instead. */
export interface H1Handler {
  /** The response head; `length` is NaN without content-length, `location` '' without one. Returns false to abort the GET. */
  onHead(status: number, length: number, contentType: string, contentEncoding: string, location: string): boolean;
  /**
   * A piece of the (still content-encoded) body, valid only during the call (the connection's read buffer:
   * copy what is kept). Returns false to abort the GET.
   */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  /** The connection failed (errors carry the socket's code, as ECONNREFUSED) or the response is malformed. */
  onError(err: NodeJS.ErrnoException): void;
}

export interface H1Options {
  /** Connections per origin. */
  connections: number;
  /** How long an idle connection is kept open. */
  keepAliveMs: number;
  /** TLS client settings for https origins (ca, cert, key, rejectUnauthorized). */
  tls?: tls.ConnectionOptions;
}

const MAX_HEAD = 64 << 10;
const CRLF2 = Buffer.from('\r\n\r\n');
/**
 * Where every connection reads (net's `onread`): what is read is handled before the next read, and what
 * is kept is copied (a split response head here, the body by the handler). Reads bypass the stream's
 * machinery (a Buffer per read, push, 'data' events).
 */
const READ = Buffer.allocUnsafe(64 << 10);

/** A GET in flight or waiting for a connection. */
class Call {
  conn: Conn | undefined;
  done = false;
  /** Sent again once on a new connection when a kept-alive one turns out closed before answering. */
  retried = false;
  constructor(
    readonly pool: Pool,
    readonly request: string,
    readonly h: H1Handler,
  ) {}

  /** Ends the GET without telling the handler anything more: its connection, if any, is closed. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    if (this.conn !== undefined) this.conn.socket.destroy();
    else this.pool.unqueue(this);
  }
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailer,
  UntilClose,
}

/** One connection and the response being read on it. */
class Conn {
  call: Call | undefined;
  /** Responses completed on it: a GET failing on a reused connection before any byte came back is sent again. */
  served = 0;
  private state = State.Head;
  private head: Buffer | undefined;
  /** Body bytes still due (content-length, or the current chunk). */
  private left = 0;
  /** A chunk-size or trailer line split between reads. */
  private line = '';
  private reusable = true;
  private got = false;

  readonly socket: net.Socket;

  constructor(
    readonly pool: Pool,
    origin: H1Origin,
    tlsOptions: tls.ConnectionOptions | undefined,
  ) {
    const onread = {
      buffer: READ,
      callback: (n: number): boolean => {
        this.data(READ.subarray(0, n));
        return true;
      },
    };
    const socket = origin.secure
      ? // onread is tls.connect's option too (Node's docs), missing from its type
        tls.connect({ ...tlsOptions, host: origin.host, port: origin.port, servername: net.isIP(origin.host) ? undefined : origin.host, onread } as tls.ConnectionOptions)
      : net.connect({ host: origin.host, port: origin.port, onread });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (e) => this.closed(e));
    socket.on('close', () => this.closed(undefined));
    socket.on('timeout', () => socket.destroy());
  }

  send(call: Call): void {
    this.call = call;
    call.conn = this;
    this.state = State.Head;
    this.head = undefined;
    this.got = false;
    this.socket.setTimeout(0);
    this.socket.ref();
    this.socket.write(call.request, 'latin1');
  }

  private closed(err: Error | undefined): void {
    const call = this.call;
    this.call = undefined;
    if (call !== undefined && !call.done && !this.got && this.served > 0 && !call.retried) {
      // the server closed a kept-alive connection as the GET went out: a GET can go again, first in line
      call.retried = true;
      call.conn = undefined;
      this.pool.requeue(call);
      this.pool.drop(this);
      return;
    }
    this.pool.drop(this);
    if (call === undefined || call.done) return;
    if (this.state === State.UntilClose && err === undefined) return this.finish(call);
    call.done = true;
    const e: NodeJS.ErrnoException = err ?? Object.assign(new Error('the connection closed before the response ended'), { code: 'ECONNRESET' });
    call.h.onError(e);
  }

  private fail(message: string): void {
    const call = this.call!;
    call.done = true;
    this.socket.destroy();
    call.h.onError(Object.assign(new Error(message), { code: 'HPE_INVALID_RESPONSE' }));
  }

  private finish(call: Call): void {
    this.call = undefined;
    call.done = true;
    this.served++;
    call.h.onEnd();
    if (this.reusable && !this.socket.destroyed) this.pool.idle(this);
    else this.socket.destroy();
  }

  private data(d: Buffer): void {
    const call = this.call;
    if (call === undefined || call.done) {
      // bytes nobody asked for: the connection cannot be trusted
      this.socket.destroy();
      return;
    }
    this.got = true;
    let p = 0;
    if (this.state === State.Head) {
      const b = this.head === undefined ? d : Buffer.concat([this.head, d]);
      const end = b.indexOf(CRLF2);
      if (end < 0) {
        if (b.length > MAX_HEAD) return this.fail('response head too large');
        // a copy: d is the read buffer
        this.head = this.head === undefined ? Buffer.from(b) : b;
        return;
      }
      this.head = undefined;
      if (!this.parseHead(call, b.toString('latin1', 0, end))) return;
      if (call.done) return;
      d = b;
      p = end + 4;
    }
    this.body(call, d, p);
  }

  /** Parses a response head; false when the GET ended (malformed, or aborted by the handler). */
  private parseHead(call: Call, head: string): boolean {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (m === null) {
      this.fail('malformed status line');
      return false;
    }
    const status = Number(m[2]);
    let length = NaN;
    let chunked = false;
    let type = '';
    let enc = '';
    let location = '';
    let keep = m[1] === '1';
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const name = l.slice(0, c).trim().toLowerCase();
      const value = l.slice(c + 1).trim();
      if (name === 'content-length') {
        const n = Number(value);
        if (!/^\d+$/.test(value) || (length === length && length !== n)) {
          this.fail('invalid content-length');
          return false;
        }
        length = n;
      } else if (name === 'transfer-encoding') chunked = value.toLowerCase().split(',').some((t) => t.trim() === 'chunked');
      else if (name === 'content-type') type = value;
      else if (name === 'content-encoding') enc = value;
      else if (name === 'location') location = value;
      else if (name === 'connection') {
        const v = value.toLowerCase();
        if (v.includes('close')) keep = false;
        else if (v.includes('keep-alive')) keep = true;
      }
    }
    if (status >= 100 && status < 200) {
      // an interim response (103 Early Hints): the final head follows
      this.state = State.Head;
      return true;
    }
    this.reusable = keep;
    if (chunked) {
      this.state = State.ChunkSize;
      this.line = '';
      length = NaN;
    } else if (status === 204 || status === 304) {
      this.state = State.Length;
      this.left = length = 0;
    } else if (length === length) {
      this.state = State.Length;
      this.left = length;
    } else {
      this.state = State.UntilClose;
      this.reusable = false;
    }
    if (!call.h.onHead(status, length, type, enc, location)) {
      call.abort();
      return false;
    }
    if (this.state === State.Length && this.left === 0) this.finish(call);
    return true;
  }

  /** Reads body bytes from d at p. */
  private body(call: Call, d: Buffer, p: number): void {
    const n = d.length;
    while (p < n && !call.done) {
      switch (this.state) {
        case State.Head: {
          // after an interim response
          this.data(d.subarray(p));
          return;
        }
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.left, n - p);
          if (!call.h.onData(p === 0 && take === n ? d : d.subarray(p, p + take))) return call.abort();
          p += take;
          this.left -= take;
          if (this.left > 0) break;
          if (this.state === State.Length) {
            // anything after the body was not asked for
            if (p < n) this.reusable = false;
            return this.finish(call);
          }
          this.state = State.ChunkEnd;
          this.line = '';
          break;
        }
        case State.UntilClose: {
          if (!call.h.onData(p === 0 ? d : d.subarray(p))) return call.abort();
          return;
        }
        default: {
          // a chunk-size line, the CRLF after a chunk's data, or a trailer line
          const e = d.indexOf(10, p);
          this.line += d.toString('latin1', p, e < 0 ? n : e + 1);
          if (this.line.length > 4096) return this.fail('chunk line too long');
          if (e < 0) return;
          p = e + 1;
          const l = this.line.trim();
          this.line = '';
          if (this.state === State.ChunkEnd) {
            if (l !== '') return this.fail('malformed chunk');
            this.state = State.ChunkSize;
          } else if (this.state === State.ChunkSize) {
            const size = parseInt(l, 16);
            if (!/^[0-9a-fA-F]+(;|$)/.test(l) || !(size >= 0)) return this.fail('malformed chunk size');
            if (size === 0) this.state = State.Trailer;
            else {
              this.state = State.ChunkData;
              this.left = size;
            }
          } else if (l === '') {
            if (p < n) this.reusable = false;
            return this.finish(call);
          }
        }
      }
    }
  }
}

/** The connections of one origin and the GETs waiting for one. */
class Pool {
  private readonly free: Conn[] = [];
  private readonly all = new Set<Conn>();
  private readonly queue: Call[] = [];

  constructor(
    private readonly client: H1Client,
    readonly origin: H1Origin,
  ) {}

  start(call: Call): void {
    const c = this.free.pop();
    if (c !== undefined) return c.send(call);
    if (this.all.size < this.client.o.connections) {
      const conn = new Conn(this, this.origin, this.client.o.tls);
      this.all.add(conn);
      return conn.send(call);
    }
    this.queue.push(call);
  }

  /** A GET to send again, before those waiting (drop() starts it). */
  requeue(call: Call): void {
    this.queue.unshift(call);
  }

  unqueue(call: Call): void {
    const i = this.queue.indexOf(call);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** A connection is free again: the next waiting GET takes it, or it idles. */
  idle(c: Conn): void {
    const next = this.queue.shift();
    if (next !== undefined) return c.send(next);
    // an idle connection does not keep the process alive
    c.socket.setTimeout(this.client.o.keepAliveMs);
    c.socket.unref();
    this.free.push(c);
  }

  drop(c: Conn): void {
    // called on the socket's error and again on its close
    if (!this.all.delete(c)) return;
    const i = this.free.indexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    // a waiting GET takes the place it leaves
    const next = this.queue.shift();
    if (next !== undefined) this.start(next);
    // an origin without connections is forgotten (pods come and go)
    else if (this.all.size === 0) this.client.forget(this);
  }

  destroy(): void {
    for (const c of this.all) c.socket.destroy();
  }
}

/** The GET client of one prom instance: its pools by origin. */
export class H1Client {
  private readonly pools = new Map<string, Pool>();

  constructor(readonly o: H1Options) {}

  /** Starts a GET of `path` with the header lines `headers` (each ending in CRLF); returns a handle to abort it. */
  get(origin: H1Origin, path: string, headers: string, h: H1Handler): { abort(): void } {
    let pool = this.pools.get(origin.key);
    if (pool === undefined) this.pools.set(origin.key, (pool = new Pool(this, origin)));
    const call = new Call(pool, `GET ${path} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\n${headers}\r\n`, h);
    pool.start(call);
    return call;
  }

  /** Origins with a connection open or a GET waiting. */
  get origins(): number {
    return this.pools.size;
  }

  /** Drops a pool left without connections. */
  forget(pool: Pool): void {
    if (this.pools.get(pool.origin.key) === pool) this.pools.delete(pool.origin.key);
  }

  /** Closes every connection (GETs in flight fail). */
  destroy(): void {
    for (const p of this.pools.values()) p.destroy();
    this.pools.clear();
  }

  async close(): Promise<void> {
    this.destroy();
  }
}
