/**
 * CORS for the whole HTTP server, as DataKit does it: browser SDKs (RUM,
 * browser logs) post to `/v1/write/*` from the page's origin, so a preflight
 * `OPTIONS` is answered 204 with `Access-Control-Allow-Origin` set to the
 * request's Origin (when allowed), the methods, the requested headers echoed,
 * `Access-Control-Allow-Credentials: true` and a max age; every other answer to
 * an allowed Origin carries the origin and credentials headers.
 *
 * Allowed origins come from `ENV_HTTP_ALLOWED_CORS_ORIGINS` (comma-separated;
 * empty or `*` = any origin, DataKit's default). Requests without an Origin
 * header (agents, tracers, curl) are not touched. A refused preflight gets 403
 * with the reason and is counted in `telekit_http_cors_refused_total`; a refused
 * simple request is still served (the browser hides the answer from the page).
 * Preflights are answered in the `onRequest` hook, before routing and body
 * parsing, so a flood of them costs no more than a header lookup each.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';

/** The variable this module reads (cli/env-all.ts gathers it into the README table); shaped like config's EnvDoc. */
export const CORS_ENV: readonly { name: string; default: string; doc: string }[] = [
  {
    name: 'ENV_HTTP_ALLOWED_CORS_ORIGINS',
    default: '(any origin)',
    doc: 'Origins browsers may call the HTTP API from (RUM and browser-log SDKs), comma-separated, e.g. `https://shop.example.com`; empty or `*` allows any.',
  },
];

export const CORS_METHODS = 'POST, GET, PUT, OPTIONS';
export const CORS_MAX_AGE_S = 86_400;

export interface CorsOptions {
  /** Allowed origins; empty = any. Compared exactly (scheme, host and port), case-insensitively. */
  origins: readonly string[];
  registry: Registry;
}

/** Reads `ENV_HTTP_ALLOWED_CORS_ORIGINS`: a list, or empty for any (`*` also means any). */
export function corsOriginsFromEnv(env: Record<string, string | undefined>): string[] {
  const raw = env.ENV_HTTP_ALLOWED_CORS_ORIGINS ?? '';
  const list = raw
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter((s) => s !== '');
  return list.includes('*') ? [] : list;
}

function refusedCounter(registry: Registry): Counter<'reason'> {
  const name = 'telekit_http_cors_refused_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'reason'>;
  return new Counter({ name, help: 'CORS preflights refused, by reason (origin not allowed)', labelNames: ['reason'], registers: [registry] });
}

export class Cors {
  private readonly allowed: ReadonlySet<string>;
  private readonly refused: Counter<'reason'>;

  constructor(o: CorsOptions) {
    this.allowed = new Set(o.origins.map((x) => x.toLowerCase()));
    this.refused = refusedCounter(o.registry);
  }

  allows(origin: string): boolean {
    return this.allowed.size === 0 || this.allowed.has(origin.toLowerCase());
  }

  /** The fastify `onRequest` hook. */
  onRequest(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || origin === '') return done();
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    const ok = this.allows(origin);
    void reply.header('vary', 'Origin');
    if (!preflight) {
      if (ok) void reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
      return done();
    }
    if (!ok) {
      this.refused.inc({ reason: 'origin' });
      void reply.code(403).type('application/json').send(JSON.stringify({ error: `origin ${JSON.stringify(origin)} is not in ENV_HTTP_ALLOWED_CORS_ORIGINS` }));
      return;
    }
    const asked = req.headers['access-control-request-headers'];
    void reply
      .code(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', CORS_METHODS)
      .header('access-control-allow-credentials', 'true')
      .header('access-control-max-age', String(CORS_MAX_AGE_S));
    if (typeof asked === 'string' && asked !== '') void reply.header('access-control-allow-headers', asked);
    void reply.send();
  }
}

/** Hooks CORS into the server's fastify app (before routing). */
export function installCors(app: FastifyInstance, o: CorsOptions): Cors {
  const cors = new Cors(o);
  app.addHook('onRequest', (req, reply, done) => cors.onRequest(req, reply, done));
  return cors;
}
