/**
 * A fake {@link InputContext} for unit tests of tracing inputs: routes are
 * kept in a table and invoked directly (`call`), points land in `points`.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Accumulator, InputContext } from '../input.js';
import type { HttpHandler, HttpRequest, HttpResponse, HttpRoutes } from '../http-routes.js';
import type { Point } from '../point.js';

export interface FakeContext extends InputContext {
  points: Point[];
  errors: { kind: string; err: unknown }[];
  routes: Map<string, HttpHandler>;
  /** When set, the accumulator reports overload and drops. */
  full: boolean;
  /** When set, the accumulator drops without reporting overload first (a batch over the byte bound). */
  refuse: boolean;
  call(method: string, path: string, body: Buffer | string, headers?: Record<string, string>): Promise<HttpResponse>;
}

export function fakeContext(name: string, instance = 0): FakeContext {
  const routes = new Map<string, HttpHandler>();
  const points: Point[] = [];
  const errors: { kind: string; err: unknown }[] = [];
  const ctx = {} as FakeContext;
  const acc: Accumulator = {
    add(p) {
      if (ctx.full || ctx.refuse) return 0;
      const arr = Array.isArray(p) ? p : [p];
      for (const x of arr) points.push(x);
      return arr.length;
    },
    async addWait(p) {
      const arr = Array.isArray(p) ? p : [p];
      for (const x of arr) points.push(x);
    },
    overloaded: () => ctx.full,
    error: (kind, err) => void errors.push({ kind, err }),
  };
  const http: HttpRoutes = {
    route(methods, path, handler) {
      for (const m of methods) {
        const k = `${m} ${path}`;
        if (routes.has(k)) throw new Error(`route ${k} is taken`);
      }
      for (const m of methods) routes.set(`${m} ${path}`, handler);
      return () => {
        for (const m of methods) if (routes.get(`${m} ${path}`) === handler) routes.delete(`${m} ${path}`);
      };
    },
  };
  Object.assign(ctx, {
    name,
    instance,
    acc,
    log: pino({ level: 'silent' }),
    http,
    host: { hostname: 'test-host', ip: '127.0.0.1', nodeName: '' },
    dataDir: '/nonexistent',
    k8s: undefined,
    metrics: new Registry(),
    signal: new AbortController().signal,
    points,
    errors,
    routes,
    full: false,
    refuse: false,
    async call(method: string, path: string, body: Buffer | string, headers: Record<string, string> = {}) {
      const h = routes.get(`${method} ${path}`);
      if (!h) return { status: 404 };
      const req: HttpRequest = { method, path, query: {}, headers, body: typeof body === 'string' ? Buffer.from(body) : body, remoteAddress: '127.0.0.1' };
      return h(req);
    },
  });
  return ctx;
}

/** The value of one labelled counter series (0 when absent). */
export async function counterValue(reg: InputContext['metrics'], name: string, labels: Record<string, string>): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  let sum = 0;
  for (const x of v.values) if (Object.entries(labels).every(([k, l]) => String(x.labels[k]) === l)) sum += x.value;
  return sum;
}
