/** A minimal InputContext for unit tests: records points and errors. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Accumulator, InputContext } from '../../../../agent/input.js';
import type { K8sServices } from '../../../../agent/k8s/types.js';
import type { Point } from '../../../../agent/point.js';
import { schema, type ContainerConfig } from '../../config.js';
import { validate } from '../../../../agent/config/schema.js';

export interface FakeCtx extends InputContext {
  points: Point[];
  errors: { kind: string; err: unknown }[];
  /** When set, add() accepts only this many points per call. */
  acceptLimit?: number;
}

export function fakeCtx(opts: { k8s?: K8sServices; nodeName?: string; ip?: string } = {}): FakeCtx {
  const points: Point[] = [];
  const errors: { kind: string; err: unknown }[] = [];
  const ctx: FakeCtx = {
    name: 'container',
    instance: 0,
    points,
    errors,
    acc: undefined as unknown as Accumulator,
    log: pino({ level: process.env.TELEKIT_TEST_LOG ?? 'silent' }),
    http: { route: () => () => undefined } as unknown as InputContext['http'],
    host: { hostname: 'node-a', ip: opts.ip ?? '', nodeName: opts.nodeName ?? 'node-a' },
    dataDir: '/tmp',
    k8s: opts.k8s,
    metrics: new Registry(),
    signal: new AbortController().signal,
  };
  const acc: Accumulator = {
    add(p) {
      const arr = Array.isArray(p) ? p : [p];
      const n = ctx.acceptLimit === undefined ? arr.length : Math.min(ctx.acceptLimit, arr.length);
      points.push(...arr.slice(0, n));
      return n;
    },
    async addWait(p) {
      points.push(...(Array.isArray(p) ? p : [p]));
    },
    overloaded: () => false,
    error(kind, err) {
      errors.push({ kind, err });
    },
  };
  (ctx as { acc: Accumulator }).acc = acc;
  return ctx;
}

/** A validated [inputs.container] config with overrides. */
export function containerConfig(raw: Record<string, unknown> = {}): ContainerConfig {
  const r = validate(schema, raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}
