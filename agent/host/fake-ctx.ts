/**
 * A minimal InputContext for unit tests of host inputs and the GitLab input:
 * records points and errors, collects registered routes.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Accumulator, InputContext } from '../input.js';
import type { HttpHandler, HttpRoutes } from '../http-routes.js';
import type { Point } from '../point.js';

export interface FakeContext extends InputContext {
  readonly points: Point[];
  readonly errors: { kind: string; err: unknown }[];
  readonly routes: Map<string, HttpHandler>;
}

export function fakeContext(name: string): FakeContext {
  const points: Point[] = [];
  const errors: { kind: string; err: unknown }[] = [];
  const routes = new Map<string, HttpHandler>();
  const acc: Accumulator = {
    add(p) {
      const arr = Array.isArray(p) ? p : [p];
      points.push(...arr);
      return arr.length;
    },
    async addWait(p) {
      points.push(...(Array.isArray(p) ? p : [p]));
    },
    overloaded: () => false,
    error(kind, err) {
      errors.push({ kind, err });
    },
  };
  const http: HttpRoutes = {
    route(methods, path, handler) {
      for (const m of methods) {
        const key = `${m} ${path}`;
        if (routes.has(key)) throw new Error(`route ${key} taken`);
        routes.set(key, handler);
      }
      return () => {
        for (const m of methods) routes.delete(`${m} ${path}`);
      };
    },
  };
  return {
    name,
    instance: 0,
    acc,
    log: pino({ level: 'silent' }),
    http,
    host: { hostname: 'test-host', ip: '10.0.0.1', nodeName: '' },
    dataDir: '/tmp',
    k8s: undefined,
    metrics: new Registry(),
    signal: new AbortController().signal,
    points,
    errors,
    routes,
  };
}
