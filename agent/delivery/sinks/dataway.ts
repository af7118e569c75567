/**
 * The dataway sink: `POST {dataway}/v1/write/{category}?token=…` with a gzip
 * body in line protocol (v1) or protobuf points (v2), over pooled keep-alive
 * connections (undici). One send = one attempt; the sender retries.
 *
 * A batch larger than the body limit is split into several bodies; progress
 * through them is remembered per batch, so a retry resumes at the body that
 * failed and never re-sends one the dataway already took.
 */
import { GzipPool } from './gzip.js';
import { HttpPool, type HttpAnswer } from './http-pool.js';
import type { Category } from '../../model/point.js';
import type { Batch, RecordFormat, SendResult, Sink, Upload } from './types.js';
import { CONTENT_TYPES, encodeV1, encodeRecords, encodeV2, type Body } from './encode.js';
import { redactUrl } from '../../config/env.js';

export interface DatawayOptions {
  /** Base URL; its query string (the token) is appended to every write. */
  url: string;
  index: number;
  encoding: 'v1' | 'v2';
  timeoutMs: number;
  maxBodyBytes: number;
  gzipLevel: number;
  /**
   * The gzip level while `busy()` says the agent uses most of its CPU (a burst,
   * a backlog being caught up): used only when lower than `gzipLevel`.
   */
  busyGzipLevel?: number;
  busy?: () => boolean;
  connections: number;
  userAgent: string;
}

interface Progress {
  bodies: Body[];
  next: number;
}

export class DatawaySink implements Sink {
  readonly name: string;
  private readonly pool: HttpPool;
  private readonly basePath: string;
  private readonly query: string;
  private readonly progress = new WeakMap<Batch, Progress>();
  /** One reused gzip context per concurrent send. */
  private readonly gz: GzipPool;
  /** The same at the busy level, when there is one. */
  private readonly gzBusy: GzipPool | undefined;
  private closed = false;
  /** The URL's query values (the token) and user-info: hidden wherever they appear in text we log, not only in URLs. */
  private readonly secrets: string[];

  constructor(private readonly o: DatawayOptions) {
    const u = new URL(o.url);
    this.name = `dataway[${o.index}]`;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.query = u.search;
    this.gz = new GzipPool(o.gzipLevel, o.connections);
    this.gzBusy = o.busy && o.busyGzipLevel !== undefined && o.busyGzipLevel < o.gzipLevel ? new GzipPool(o.busyGzipLevel, o.connections) : undefined;
    this.secrets = [...u.searchParams.values(), decodeURIComponent(u.password), decodeURIComponent(u.username)].filter((v) => v.length >= 4);
    this.pool = new HttpPool(u.origin, {
      connections: o.connections,
      keepAliveMs: 30_000,
      idleTimeoutMs: o.timeoutMs,
      connectTimeoutMs: Math.min(o.timeoutMs, 10_000),
    });
  }

  /** The URL with the token hidden, for logs. */
  get displayUrl(): string {
    return redactUrl(this.o.url);
  }

  accepts(_category: Category): boolean {
    return true;
  }

  records(_category: Category): RecordFormat {
    return this.o.encoding === 'v1' ? 'lp' : 'pb';
  }

  writePath(category: Category): string {
    return `${this.basePath}/v1/write/${category}${this.query}`;
  }

  async send(batch: Batch, signal?: AbortSignal): Promise<SendResult> {
    let pr = this.progress.get(batch);
    if (!pr) {
      const bodies = batch.lines
        ? encodeRecords(batch.lines, this.o.maxBodyBytes)
        : (this.o.encoding === 'v2' ? encodeV2 : encodeV1)(batch.points, batch.defaultTime, this.o.maxBodyBytes);
      pr = { bodies, next: 0 };
      this.progress.set(batch, pr);
    }
    while (pr.next < pr.bodies.length) {
      const r = await this.post(batch.category, pr.bodies[pr.next]!, signal);
      if (!r.ok) {
        if (r.retryable) return r;
        // the records of the bodies before this one were taken (bodies of encoded records map to
        // them one to one; point bodies may skip unencodable points, so only the first body is sure)
        let delivered: number | undefined = 0;
        if (batch.lines) for (let i = 0; i < pr.next; i++) delivered += pr.bodies[i]!.points;
        else if (pr.next > 0) delivered = undefined;
        return { ...r, delivered };
      }
      pr.next++;
    }
    return { ok: true };
  }

  private async post(category: Category, body: Body, signal?: AbortSignal): Promise<SendResult> {
    if (this.closed) return { ok: false, retryable: true, reason: 'sink closed' };
    const data = await (this.gzBusy && this.o.busy!() ? this.gzBusy : this.gz).gzip(body.data);
    try {
      const res: HttpAnswer = await this.pool.request(
        'POST',
        this.writePath(category),
        {
          'content-type': CONTENT_TYPES[this.o.encoding],
          'content-encoding': 'gzip',
          'x-points': String(body.points),
          'user-agent': this.o.userAgent,
        },
        data,
        signal,
      );
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const reason = `HTTP ${res.status}: ${this.redact(res.text.slice(0, 200))}`;
      if (res.status === 429 || res.status >= 500) {
        const ra = Number(res.headers['retry-after']);
        return { ok: false, retryable: true, reason, retryAfterMs: Number.isFinite(ra) && ra > 0 ? Math.min(ra, 300) * 1000 : undefined };
      }
      return { ok: false, retryable: false, reason, status: res.status };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { ok: false, retryable: true, reason: `${err.code ?? err.name}: ${this.redact(err.message)}` };
    }
  }

  /**
   * A raw upload (session replay) to `{dataway}{u.path}?token=…`, its body and
   * content headers as they came, plus `X-Global-Tags` (`k=v,…`) as DataKit sends.
   */
  async upload(u: Upload, signal?: AbortSignal): Promise<SendResult> {
    if (this.closed) return { ok: false, retryable: true, reason: 'sink closed' };
    const headers: Record<string, string> = { ...u.headers, 'user-agent': this.o.userAgent };
    const gt = Object.entries(u.globalTags).map(([k, v]) => `${k}=${v}`).join(',');
    if (gt !== '') headers['x-global-tags'] = gt;
    try {
      const res = await this.pool.request('POST', `${this.basePath}${u.path}${this.query}`, headers, u.body, signal);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const reason = `HTTP ${res.status}: ${this.redact(res.text.slice(0, 200))}`;
      if (res.status === 429 || res.status >= 500) return { ok: false, retryable: true, reason };
      return { ok: false, retryable: false, reason };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { ok: false, retryable: true, reason: `${err.code ?? err.name}: ${this.redact(err.message)}` };
    }
  }

  /** A dataway may echo the token in an error body (`token tkn_… is not valid`): hide it there too. */
  private redact(text: string): string {
    let s = redactUrl(text);
    for (const v of this.secrets) s = s.split(v).join('***');
    return s;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gz.close();
    this.gzBusy?.close();
    // close() waits for requests in flight; at shutdown those were aborted, but a dataway that
    // never answers must not hold the pool open: destroy it after a short grace
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.pool.close().then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 500)))]);
    clearTimeout(timer);
    if (!closed) this.pool.destroy();
  }
}
