/**
 * rum: DataKit's RUM input. The browser (and mini-program) RUM SDKs post
 * batches to `/v1/write/rum` as line protocol or a JSON array; only RUM
 * measurements from allowed app ids are accepted. Each request's client
 * address (proxy header first) and its location become tags of every point;
 * `error` points get `error_stack_source` from the app's uploaded sourcemaps.
 * Session replay segments (`/v1/write/rum/replay`) are checked and forwarded
 * to the dataway as they came. CORS for browsers is the HTTP server's
 * (agent/server/cors.ts).
 */
import path from 'node:path';
import zlib from 'node:zlib';
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import type { Input, InputContext } from '../../agent/input/contract.js';
import { escapeKey, PRECISION_NS } from '../../agent/model/lineproto.js';
import { nowNs, type Point } from '../../agent/model/point.js';
import { BadBody, decodeBody, isJson } from './body.js';
import { fastLines, keyTable, type FastOptions, type KeyTable } from './fastpath.js';
import { clientIp } from './clientip.js';
import { GeoLocator, type GeoTags, type Place } from './geo.js';
import { RumMetrics, type RumResult } from './metrics.js';
import { replayForm, ReplayRefusal, REPLAY_PATH } from './replay.js';
import { Sourcemaps } from './sourcemap.js';
import { SourcemapApi, SOURCEMAP_PATH } from './sourcemap-api.js';
import type { RumConfig } from './config.js';

const MIB = 1 << 20;
/** Largest sourcemap zip accepted by PUT /v1/sourcemap (the server's ENV_HTTP_BODY_LIMIT caps it too). */
const SOURCEMAP_MAX_BYTES = 256 * MIB;
/** The tags every point gets from its request's client address. */
const ENRICH_KEYS: ReadonlySet<string> = new Set(['ip', 'city', 'province', 'country', 'isp']);

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly result: RumResult,
    message: string,
  ) {
    super(message);
  }
}

/** The SDKs whose stacks are JavaScript (sourcemaps apply); no sdk_name counts as web. */
function isWebSdk(sdk: string | undefined): boolean {
  return sdk === undefined || sdk === 'df_web_rum_sdk' || sdk === 'df_miniapp_rum_sdk' || sdk === 'df_uniapp_rum_sdk';
}

function header(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether `tags` has these names with these values, in this order (the global tags of the last request). */
function sameTags(tags: Readonly<Record<string, string>>, names: readonly string[], values: readonly string[]): boolean {
  let i = 0;
  for (const k in tags) {
    if (names[i] !== k || values[i] !== tags[k]) return false;
    i++;
  }
  return i === names.length;
}

export class RumInput implements Input {
  private unregister: (() => void)[] = [];
  private accepting = false;
  private readonly metrics: RumMetrics;
  private readonly measurements: ReadonlySet<string>;
  private readonly whitelist: ReadonlySet<string>;
  private readonly ipHeader: string;
  private geo: GeoLocator | undefined;
  readonly sourcemaps: Sourcemaps | undefined;

  constructor(
    private readonly cfg: RumConfig,
    private readonly ctx: InputContext,
  ) {
    this.metrics = new RumMetrics(ctx.metrics);
    this.measurements = new Set(cfg.measurements);
    this.whitelist = new Set(cfg.rum_app_id_white_list);
    this.ipHeader = cfg.rum_origin_ip_header.trim().toLowerCase() || 'x-forwarded-for';
    this.sourcemaps = cfg.sourcemap ? new Sourcemaps(path.join(ctx.dataDir, 'rum', 'web')) : undefined;
  }

  async start(): Promise<void> {
    this.geo = await GeoLocator.open(this.cfg.ipdb_path, this.cfg.ipdb_isp_path, this.cfg.ip_cache_size);
    if (!this.geo.hasDatabase) this.ctx.log.info('No ipdb_path: the location tags of RUM points are "unknown".');
    this.accepting = true;
    const limit = this.cfg.max_body_mb * MIB;
    for (const p of this.cfg.endpoints) this.unregister.push(this.ctx.http.route(['POST'], p, (req) => this.handle(req), { bodyLimit: limit }));
    const replayLimit = this.cfg.max_replay_body_mb * MIB;
    for (const p of this.cfg.session_replay_endpoints) this.unregister.push(this.ctx.http.route(['POST'], p, (req) => this.handleReplay(req), { bodyLimit: replayLimit }));
    if (this.sourcemaps) {
      const dir = path.join(this.ctx.dataDir, 'rum', 'web');
      const api = new SourcemapApi(dir, this.sourcemaps, this.ctx.checkToken ?? (() => false), (result) => this.metrics.sourcemapApi.inc({ result }), SOURCEMAP_MAX_BYTES);
      try {
        this.unregister.push(this.ctx.http.route(['PUT'], SOURCEMAP_PATH, (req) => api.upload(req), { bodyLimit: SOURCEMAP_MAX_BYTES }));
        this.unregister.push(this.ctx.http.route(['DELETE'], SOURCEMAP_PATH, (req) => api.remove(req)));
      } catch {
        this.ctx.log.info('Another [[inputs.rum]] serves /v1/sourcemap.');
      }
    }
    this.ctx.log.info({ endpoints: this.cfg.endpoints, replay: this.cfg.session_replay_endpoints }, 'Listening for RUM SDK batches.');
  }

  async stop(): Promise<void> {
    this.accepting = false;
    for (const u of this.unregister.splice(0)) u();
  }

  private reply(endpoint: 'rum' | 'replay', result: RumResult, status: number, body?: object, headers?: Record<string, string>): HttpResponse {
    this.metrics.requestsBy.inc(`${endpoint} ${result}`);
    return { status, body, headers };
  }

  /** `?encoding=deflate|gzip`: the SDK's `compressIntakeRequests` bodies. */
  private inflate(body: Buffer, encoding: string | undefined): Buffer {
    if (!encoding || encoding === 'identity') return body;
    const limit = this.cfg.max_body_mb * MIB;
    try {
      if (encoding === 'gzip') return zlib.gunzipSync(body, { maxOutputLength: limit });
      if (encoding === 'deflate') {
        try {
          return zlib.inflateSync(body, { maxOutputLength: limit });
        } catch (e) {
          if ((e as { code?: string }).code !== 'Z_DATA_ERROR') throw e;
          return zlib.inflateRawSync(body, { maxOutputLength: limit }); // a raw deflate stream, without the zlib header
        }
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || /maxOutputLength|larger than/i.test((e as Error).message)) throw new Refusal(413, 'too_large', `decompressed body exceeds ${limit} bytes`);
      throw new Refusal(400, 'bad_body', `invalid ${encoding} body: ${(e as Error).message}`);
    }
    throw new Refusal(400, 'bad_request', `unknown encoding ${JSON.stringify(encoding)}`);
  }

  handle(req: HttpRequest): HttpResponse {
    if (!this.accepting) return this.reply('rum', 'stopping', 503, { error: 'rum input is stopping' }, { 'retry-after': '1' });
    try {
      const precision = PRECISION_NS[req.query.precision ?? 'n'];
      if (precision === undefined) throw new Refusal(400, 'bad_request', `unknown precision ${JSON.stringify(req.query.precision)}`);
      const body = this.inflate(req.body, req.query.encoding);
      if (body.length === 0) throw new Refusal(400, 'empty', 'empty body');
      const { ip, source } = clientIp(req.headers, req.remoteAddress, this.ipHeader);
      const { tags: geo, status } = this.geo!.locate(ip);
      this.metrics.clientIpBy.inc(`${source} ${status}`);
      const ct = header(req, 'content-type');
      const zeros = String(precision).slice(1); // ?precision=ms → 000000 (m and h are no powers of ten: general path)
      const fast = !isJson(ct) && /^0*$/.test(zeros) && this.takesLines() ? fastLines(body, this.fastOptions(geo, zeros), precision) : undefined;
      let counts: Map<string, number>;
      if (fast) {
        if (fast.ends.length === 0) throw new Refusal(400, 'empty', 'no points in the body');
        if (this.ctx.acc.addLines!('rum', fast.data, fast.ends) < fast.ends.length) return this.dropped();
        counts = fast.counts;
        if (fast.zipNotFound > 0) this.metrics.sourcemaps.inc({ status: 'zip_not_found' }, fast.zipNotFound);
      } else {
        const points = this.convert(body, ct, precision, geo);
        if (this.ctx.acc.add(points) < points.length) return this.dropped();
        counts = new Map();
        for (const p of points) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
      }
      for (const [measurement, n] of counts) this.metrics.pointsBy.inc(measurement, n);
      return this.reply('rum', 'accepted', 200, {});
    } catch (e) {
      if (e instanceof Refusal) return this.reply('rum', e.result, e.status, { error: e.message });
      if (e instanceof BadBody) return this.reply('rum', 'bad_body', 400, { error: e.message });
      throw e;
    }
  }

  private dropped(): HttpResponse {
    return this.reply('rum', 'dropped', 503, { error: 'agent queue is full; retry later' }, { 'retry-after': '1' });
  }

  /** Lines can go to every sink as records (line protocol everywhere): the fast path applies. */
  private takesLines(): boolean {
    const acc = this.ctx.acc;
    return acc.addLines !== undefined && acc.tagsToAdd !== undefined && acc.takesLines?.('rum') === true && acc.recordFormat?.('rum') === 'lp';
  }

  private readonly enrichText = new WeakMap<GeoTags, Buffer>();
  private readonly placeText = new WeakMap<Place, string>();
  /** fastLines' output buffer, reused: addLines copies the records before it returns. */
  private readonly scratch: { buf: Buffer | undefined } = { buf: undefined };
  private globalsText: { names: string[]; values: string[]; keys: KeyTable } | undefined;

  private fastOptions(geo: GeoTags, precisionZeros: string): FastOptions {
    let enrich = this.enrichText.get(geo);
    if (!enrich) {
      // the location's escaped text is kept per place (shared by the addresses of a city), the address's per address
      let place = geo.place ? this.placeText.get(geo.place) : undefined;
      if (place === undefined) {
        place = `,city=${escapeKey(geo.city)},province=${escapeKey(geo.province)},country=${escapeKey(geo.country)},isp=${escapeKey(geo.isp)}`;
        if (geo.place) this.placeText.set(geo.place, place);
      }
      enrich = Buffer.from(`,ip=${escapeKey(geo.ip || 'unknown')}${place}`);
      this.enrichText.set(geo, enrich);
    }
    const add = this.ctx.acc.tagsToAdd!();
    if (!this.globalsText || !sameTags(add, this.globalsText.names, this.globalsText.values)) {
      // the core's tags change only on reload: their escaped text is kept until then
      const globals = new Map<string, Buffer>();
      for (const [k, v] of Object.entries(add)) globals.set(k, Buffer.from(`,${escapeKey(k)}=${escapeKey(v)}`));
      this.globalsText = { names: Object.keys(add), values: Object.values(add), keys: keyTable(ENRICH_KEYS, globals) };
    }
    return {
      precisionZeros,
      enrich,
      keys: this.globalsText.keys,
      measurements: this.measurements,
      checkAppId: this.checkLineAppId,
      refuseMeasurement: this.refuseLineMeasurement,
      onError: this.sourcemaps
        ? (p) => {
            this.enrich(p.tags, geo);
            for (const k in add) if (p.tags[k] === undefined) p.tags[k] = add[k]!;
            this.resolveStack(p.fields, p.tags);
          }
        : undefined,
      sourcemapFor: this.sourcemaps ? this.sourcemapFor : undefined,
      nowNs: nowNs(),
      scratch: this.scratch,
    };
  }

  // fastLines' callbacks, made once (not per request)
  private readonly checkLineAppId = (appId: string | undefined, line: number): void => this.checkAppId(appId, `line ${line}`);
  private readonly refuseLineMeasurement = (name: string, line: number): never => this.refuseMeasurement(name, `line ${line}`);
  private readonly sourcemapFor = (appId: string | undefined, env: string | undefined, version: string | undefined, sdk: string | undefined): 'decode' | 'zip_not_found' | 'skip' =>
    !isWebSdk(sdk) ? 'skip' : this.sourcemaps!.has(appId ?? '', env ?? '', version ?? '') ? 'decode' : 'zip_not_found';

  private checkAppId(appId: string | undefined, where: string): void {
    if (appId === undefined || appId === '') throw new Refusal(400, 'missing_app_id', `${where}: no app_id tag`);
    if (this.whitelist.size > 0 && !this.whitelist.has(appId)) throw new Refusal(403, 'app_id_refused', `app_id ${JSON.stringify(appId)} is not in rum_app_id_white_list`);
  }

  private refuseMeasurement(name: string, where: string): never {
    throw new Refusal(400, 'unknown_measurement', `${where}: ${JSON.stringify(name)} is not a RUM measurement (measurements = ${JSON.stringify([...this.measurements])})`);
  }

  private enrich(t: Record<string, string>, geo: GeoTags): void {
    t.ip = geo.ip || 'unknown';
    t.city = geo.city;
    t.province = geo.province;
    t.country = geo.country;
    t.isp = geo.isp;
  }

  /** The general path: decodes, checks and enriches one request's points (throws Refusal / BadBody). */
  convert(body: Buffer, contentType: string | undefined, precision: bigint, geo: GeoTags): Point[] {
    const decoded = decodeBody(body, contentType, precision);
    if (decoded.length === 0) throw new Refusal(400, 'empty', 'no points in the body');
    const points: Point[] = new Array(decoded.length);
    for (let i = 0; i < decoded.length; i++) {
      const d = decoded[i]!;
      if (!this.measurements.has(d.name)) this.refuseMeasurement(d.name, `point ${i + 1}`);
      const t = d.tags;
      this.checkAppId(t.app_id, `point ${i + 1}`);
      this.enrich(t, geo);
      if (d.name === 'error' && this.sourcemaps) this.resolveStack(d.fields, t);
      points[i] = { category: 'rum', name: d.name, tags: t, fields: d.fields, time: d.time };
    }
    return points;
  }

  private resolveStack(fields: Point['fields'], tags: Record<string, string>): void {
    if (!isWebSdk(tags.sdk_name)) return;
    const stack = fields.error_stack;
    const r = this.sourcemaps!.resolve(typeof stack === 'string' ? stack : '', tags.app_id ?? '', tags.env ?? '', tags.version ?? '');
    this.metrics.sourcemaps.inc({ status: r.status });
    if (r.source !== undefined) fields.error_stack_source = r.source;
    else if (r.status === 'bad_zip') this.ctx.acc.error('sourcemap', new Error(r.error));
  }

  async handleReplay(req: HttpRequest): Promise<HttpResponse> {
    if (!this.accepting) return this.reply('replay', 'stopping', 503, { error: 'rum input is stopping' }, { 'retry-after': '1' });
    try {
      const ct = header(req, 'content-type');
      const values = await replayForm(req.body, ct, this.cfg.max_replay_body_mb * MIB);
      const appId = values.app_id ?? values.application_id ?? '';
      if (appId === '') throw new ReplayRefusal(400, 'missing_app_id', 'no app_id in the replay form');
      if (this.whitelist.size > 0 && !this.whitelist.has(appId)) throw new ReplayRefusal(403, 'app_id_refused', `app_id ${JSON.stringify(appId)} is not in rum_app_id_white_list`);
      const queued = this.ctx.acc.upload?.({ kind: 'rum_replay', path: REPLAY_PATH, headers: { 'content-type': ct! }, body: req.body, tags: values }) ?? false;
      if (!queued) return this.reply('replay', 'dropped', 503, { error: 'upload queue is full; retry later' }, { 'retry-after': '5' });
      return this.reply('replay', 'accepted', 200, {});
    } catch (e) {
      if (e instanceof ReplayRefusal) return this.reply('replay', e.result, e.status, { error: e.message });
      throw e;
    }
  }
}
