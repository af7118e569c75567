/**
 * The one fake {@link InputContext} for unit tests and in-process benches:
 * a recording accumulator with the whole {@link Accumulator} contract
 * (acks, election tags, omitted global tags, refusal, back-pressure), a route table whose handlers
 * tests call directly, a silent pino logger, a fresh prom-client registry,
 * host info, a temp data directory and optional Kubernetes services.
 *
 * It is compiled with the agent (imported by nothing in `agent/` or `inputs/`
 * at run time) only so benches can import it from `dist/test/helpers/`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { validate, type Schema } from '../../agent/config/schema.js';
import type { Accumulator, AddOptions, HostInfo, InputContext } from '../../agent/input/contract.js';
import type { HttpHandler, HttpRequest, HttpResponse, HttpRoutes } from '../../agent/server/http-routes.js';
import type { K8sServices, PodEvent, PodInfo, PodWatcher } from '../../agent/services/k8s/types.js';
import type { Category, Point } from '../../agent/model/point.js';
import type { Upload } from '../../agent/delivery/sinks/types.js';

/** One call to `add`/`addWait`, as the input made it. */
export interface AddCall {
  points: Point[];
  opts: AddOptions | undefined;
  wait: boolean;
  /** How many points were accepted (all of them for addWait). */
  accepted: number;
}

/**
 * Records what an input hands to the core. The switches are plain fields
 * a test flips at any time; the methods are own properties so a test may also
 * replace one (`acc.add = () => 0`) and put it back.
 */
export class FakeAccumulator implements Accumulator {
  readonly points: Point[] = [];
  readonly errors: { kind: string; err: unknown }[] = [];
  readonly calls: AddCall[] = [];
  /** `overloaded()` answers this. */
  overload = false;
  /** While set, `add` accepts nothing (the queue refuses the batch). */
  refuse = false;
  /** When set, `add` accepts at most this many points per call. */
  acceptLimit: number | undefined = undefined;
  /** While set, `addWait` waits for it before taking the points. */
  gate: Promise<void> | undefined = undefined;
  /** When true, `onAck` runs as soon as every point of a call is accepted; else it is queued in `acks`. */
  autoAck = true;
  /** Held-back acks (with `autoAck = false`), in call order. */
  readonly acks: (() => void)[] = [];

  add = (p: Point | Point[], opts?: AddOptions): number => {
    const arr = Array.isArray(p) ? p : [p];
    const n = this.refuse ? 0 : Math.min(this.acceptLimit ?? arr.length, arr.length);
    for (let i = 0; i < n; i++) this.points.push(arr[i]!);
    this.calls.push({ points: arr, opts, wait: false, accepted: n });
    if (n === arr.length) this.ack(opts);
    return n;
  };

  addWait = async (p: Point | Point[], opts?: AddOptions): Promise<void> => {
    while (this.gate) await this.gate;
    const arr = Array.isArray(p) ? p : [p];
    for (const x of arr) this.points.push(x);
    this.calls.push({ points: arr, opts, wait: true, accepted: arr.length });
    this.ack(opts);
  };

  overloaded = (_category?: Category): boolean => this.overload;

  /** Raw uploads (session replay) the input queued; `refuse` refuses them too. */
  readonly uploads: Omit<Upload, 'globalTags'>[] = [];
  upload = (u: Omit<Upload, 'globalTags'>): boolean => {
    if (this.refuse) return false;
    this.uploads.push(u);
    return true;
  };

  error = (kind: string, err: unknown): void => {
    this.errors.push({ kind, err });
  };

  /** Points that were handed over with `electionTags: true`. */
  electionTagged(): Point[] {
    return this.calls.filter((c) => c.opts?.electionTags).flatMap((c) => c.points.slice(0, c.accepted));
  }

  /** Points that were handed over with `omitGlobalTags` including `key` (the core would not add that global tag). */
  withoutGlobalTag(key: string): Point[] {
    return this.calls.filter((c) => c.opts?.omitGlobalTags?.includes(key)).flatMap((c) => c.points.slice(0, c.accepted));
  }

  private ack(opts: AddOptions | undefined): void {
    if (!opts?.onAck) return;
    if (this.autoAck) opts.onAck();
    else this.acks.push(opts.onAck);
  }
}

export interface FakeContextOptions {
  instance?: number;
  /** Overrides of the default host `{hostname: 'test-host', ip: '127.0.0.1', nodeName: ''}`. */
  host?: Partial<HostInfo>;
  k8s?: K8sServices;
  /** Shorthand for `k8s: {pods, election: undefined, kubeConfig: undefined}`. */
  pods?: PodWatcher;
  /** Default: a fresh temp directory. */
  dataDir?: string;
}

export interface FakeContext extends InputContext {
  readonly acc: FakeAccumulator;
  readonly metrics: Registry;
  /** The accumulator's points and errors (the same arrays). */
  readonly points: Point[];
  readonly errors: { kind: string; err: unknown }[];
  /** Registered handlers by `"METHOD /path"`. */
  readonly routes: Map<string, HttpHandler>;
  /** Aborts `signal`. */
  readonly abort: AbortController;
  /** Calls the handler registered for `method path` (404 when none), as the agent's server would. */
  call(method: string, path: string, body: Buffer | string, headers?: Record<string, string>): Promise<HttpResponse>;
}

/** A route table with the agent's rules: a taken route throws; unregistering removes only its own handler. */
function routeTable(routes: Map<string, HttpHandler>): HttpRoutes {
  return {
    route(methods, p, handler) {
      for (const m of methods) if (routes.has(`${m} ${p}`)) throw new Error(`route ${m} ${p} is taken`);
      for (const m of methods) routes.set(`${m} ${p}`, handler);
      return () => {
        for (const m of methods) if (routes.get(`${m} ${p}`) === handler) routes.delete(`${m} ${p}`);
      };
    },
  };
}

export function fakeContext(name: string, o: FakeContextOptions = {}): FakeContext {
  const acc = new FakeAccumulator();
  const routes = new Map<string, HttpHandler>();
  const abort = new AbortController();
  return {
    name,
    instance: o.instance ?? 0,
    acc,
    log: pino({ level: process.env.TELEKIT_TEST_LOG ?? 'silent' }),
    http: routeTable(routes),
    host: { hostname: 'test-host', ip: '127.0.0.1', nodeName: '', ...o.host },
    dataDir: o.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `telekit-${name}-`)),
    k8s: o.k8s ?? (o.pods ? { pods: o.pods, election: undefined, kubeConfig: undefined } : undefined),
    metrics: new Registry(),
    signal: abort.signal,
    abort,
    points: acc.points,
    errors: acc.errors,
    routes,
    async call(method, p, body, headers = {}) {
      const h = routes.get(`${method} ${p}`);
      if (!h) return { status: 404 };
      const req: HttpRequest = { method, path: p, query: {}, headers, body: typeof body === 'string' ? Buffer.from(body) : body, remoteAddress: '127.0.0.1' };
      return h(req);
    },
  };
}

/** A PodWatcher the test drives: `upsert`/`delete` notify subscribers as the informer would. */
export class FakePods implements PodWatcher {
  private readonly pods = new Map<string, PodInfo>();
  private readonly listeners = new Set<(ev: PodEvent) => void>();
  list(): PodInfo[] {
    return [...this.pods.values()];
  }
  get(ns: string, name: string): PodInfo | undefined {
    return this.pods.get(`${ns}/${name}`);
  }
  subscribe(l: (ev: PodEvent) => void): () => void {
    this.listeners.add(l);
    for (const pod of this.pods.values()) l({ type: 'add', pod });
    return () => this.listeners.delete(l);
  }
  async synced(): Promise<void> {}
  upsert(pod: PodInfo): void {
    const k = `${pod.namespace}/${pod.name}`;
    const old = this.pods.get(k);
    this.pods.set(k, pod);
    for (const l of this.listeners) l(old ? { type: 'update', pod, old } : { type: 'add', pod });
  }
  delete(ns: string, name: string): void {
    const pod = this.pods.get(`${ns}/${name}`);
    if (!pod) return;
    this.pods.delete(`${ns}/${name}`);
    for (const l of this.listeners) l({ type: 'delete', pod });
  }
}

/** The sum of a prom-client metric's series whose labels include `labels` (0 when absent). */
export async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) if (Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)) sum += v.value;
  return sum;
}

/** An input's config from raw options (defaults filled in); throws with every issue when it is invalid. */
export function validConfig<C>(schema: Schema<C>, raw: unknown = {}): C {
  const r = validate(schema, raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}
