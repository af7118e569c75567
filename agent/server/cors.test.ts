import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CoreMetrics } from '../telemetry/metrics.js';
import { AgentServer } from './server.js';
import { CORS_MAX_AGE_S, corsOriginsFromEnv } from './cors.js';

function server(corsOrigins?: string[]) {
  const metrics = new CoreMetrics(false);
  const s = new AgentServer({ bodyLimit: 1 << 20, metrics, log: pino({ level: 'silent' }), overloaded: () => false, corsOrigins });
  s.route(['POST'], '/v1/write/logging', () => ({ status: 200, body: {} }));
  s.app.get('/v1/ping', async () => ({ ok: true }));
  return { s, metrics };
}

const preflight = (origin: string, headers = 'content-type') => ({
  method: 'OPTIONS' as const,
  url: '/v1/write/logging',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
});

describe('CORS on the agent HTTP server', () => {
  it('answers a preflight 204 with the Origin, methods, the requested headers echoed, credentials and max age (any origin by default)', async () => {
    const { s } = server();
    const res = await s.app.inject(preflight('http://shop.example.com:8080', 'content-type, x-datadog-origin'));
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://shop.example.com:8080');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toBe('content-type, x-datadog-origin');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-max-age']).toBe(String(CORS_MAX_AGE_S));
    expect(res.headers.vary).toContain('Origin');
    expect(res.body).toBe('');
  });

  it('answers preflights for paths no route serves too (the browser asks before it posts)', async () => {
    const { s } = server();
    const res = await s.app.inject({ ...preflight('http://a.example'), url: '/v1/write/rum/replay' });
    expect(res.statusCode).toBe(204);
  });

  it('allows only the listed origins; a refused preflight gets 403 with the reason and is counted', async () => {
    const { s, metrics } = server(corsOriginsFromEnv({ ENV_HTTP_ALLOWED_CORS_ORIGINS: 'https://shop.example.com, http://127.0.0.1:3000/' }));
    const ok = await s.app.inject(preflight('http://127.0.0.1:3000'));
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://127.0.0.1:3000');
    const refused = await s.app.inject(preflight('https://evil.example'));
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect(refused.json().error).toMatch(/evil\.example.*ENV_HTTP_ALLOWED_CORS_ORIGINS/);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/telekit_http_cors_refused_total\{reason="origin"\} 1/);
    // the actual request from a refused origin is served, but without the headers the browser needs
    const post = await s.app.inject({ method: 'POST', url: '/v1/write/logging', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, payload: 'x' });
    expect(post.statusCode).toBe(200);
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds the origin and credentials headers to answers for browsers, including errors', async () => {
    const { s } = server();
    const post = await s.app.inject({ method: 'POST', url: '/v1/write/logging', headers: { origin: 'http://a.example', 'content-type': 'text/plain' }, payload: 'x' });
    expect(post.headers['access-control-allow-origin']).toBe('http://a.example');
    expect(post.headers['access-control-allow-credentials']).toBe('true');
    const missing = await s.app.inject({ method: 'POST', url: '/nope', headers: { origin: 'http://a.example' }, payload: 'x' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe('http://a.example');
  });

  it('leaves non-browser clients as they were: no CORS headers, OPTIONS without Origin is still 405/404', async () => {
    const { s } = server();
    const ping = await s.app.inject({ method: 'GET', url: '/v1/ping' });
    expect(ping.statusCode).toBe(200);
    expect(ping.headers['access-control-allow-origin']).toBeUndefined();
    const opt = await s.app.inject({ method: 'OPTIONS', url: '/v1/write/logging' });
    expect(opt.statusCode).toBe(405);
  });

  it('reads ENV_HTTP_ALLOWED_CORS_ORIGINS: empty or * is any origin', () => {
    expect(corsOriginsFromEnv({})).toEqual([]);
    expect(corsOriginsFromEnv({ ENV_HTTP_ALLOWED_CORS_ORIGINS: '*' })).toEqual([]);
    expect(corsOriginsFromEnv({ ENV_HTTP_ALLOWED_CORS_ORIGINS: 'https://a.example/, https://b.example' })).toEqual(['https://a.example', 'https://b.example']);
  });
});
