/** The shared fake context keeps the Accumulator and HttpRoutes contracts the unit tests rely on. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { object, str, tags } from '../../agent/config/schema.js';
import type { Point } from '../../agent/model/point.js';
import { fakeContext, FakePods, validConfig } from './fake-context.js';

const pt = (n: number): Point => ({ category: 'metric', name: 'm', tags: {}, fields: { v: n } });

describe('fake context', () => {
  it('records points, calls and errors; acks only fully accepted calls', async () => {
    const ctx = fakeContext('t');
    let acks = 0;
    expect(ctx.acc.add([pt(1), pt(2)], { onAck: () => acks++, electionTags: true })).toBe(2);
    ctx.acc.acceptLimit = 1;
    expect(ctx.acc.add([pt(3), pt(4)], { onAck: () => acks++ })).toBe(1);
    ctx.acc.acceptLimit = undefined;
    ctx.acc.refuse = true;
    expect(ctx.acc.add(pt(5), { onAck: () => acks++ })).toBe(0);
    ctx.acc.refuse = false;
    ctx.acc.error('parse', new Error('x'));
    expect(ctx.points.map((p) => p.fields.v)).toEqual([1, 2, 3]);
    expect(acks).toBe(1);
    expect(ctx.acc.electionTagged().map((p) => p.fields.v)).toEqual([1, 2]);
    expect(ctx.acc.calls.map((c) => c.accepted)).toEqual([2, 1, 0]);
    ctx.acc.add(pt(6), { omitGlobalTags: ['host'] });
    expect(ctx.acc.withoutGlobalTag('host').map((p) => p.fields.v)).toEqual([6]);
    expect(ctx.acc.withoutGlobalTag('zone')).toEqual([]);
    expect(ctx.errors).toEqual([{ kind: 'parse', err: new Error('x') }]);
    expect(ctx.acc.overloaded('metric')).toBe(false);
    ctx.acc.overload = true;
    expect(ctx.acc.overloaded('metric')).toBe(true);
  });

  it('addWait waits on the gate and can hold acks back', async () => {
    const ctx = fakeContext('t');
    let release!: () => void;
    ctx.acc.gate = new Promise((r) => (release = r));
    ctx.acc.autoAck = false;
    let acked = false;
    const done = ctx.acc.addWait(pt(1), { onAck: () => (acked = true) });
    await Promise.resolve();
    expect(ctx.points).toHaveLength(0);
    ctx.acc.gate = undefined;
    release();
    await done;
    expect(ctx.points).toHaveLength(1);
    expect(acked).toBe(false);
    ctx.acc.acks.splice(0).forEach((a) => a());
    expect(acked).toBe(true);
  });

  it('routes: call() reaches the handler, a taken route throws, unregister frees it', async () => {
    const ctx = fakeContext('t', { host: { ip: '10.0.0.1' } });
    const off = ctx.http.route(['POST', 'PUT'], '/x', (req) => ({ status: 200, body: { got: req.body.toString(), m: req.method } }));
    expect(() => ctx.http.route(['PUT'], '/x', () => ({ status: 204 }))).toThrow(/taken/);
    expect(await ctx.call('PUT', '/x', 'hi')).toEqual({ status: 200, body: { got: 'hi', m: 'PUT' } });
    off();
    expect((await ctx.call('POST', '/x', '')).status).toBe(404);
    expect(ctx.host).toEqual({ hostname: 'test-host', ip: '10.0.0.1', nodeName: '' });
    expect(fs.statSync(ctx.dataDir).isDirectory()).toBe(true);
    expect(ctx.k8s).toBeUndefined();
  });

  it('pods given become k8s services; FakePods notifies subscribers', () => {
    const pods = new FakePods();
    const ctx = fakeContext('t', { pods });
    expect(ctx.k8s?.pods).toBe(pods);
    const seen: string[] = [];
    pods.subscribe((e) => seen.push(`${e.type} ${e.pod.name}`));
    const p = { uid: 'u', namespace: 'ns', name: 'p', nodeName: 'n', ip: '', phase: 'Running', labels: {}, annotations: {}, owner: undefined, containers: [], resourceVersion: '1' };
    pods.upsert(p);
    pods.upsert({ ...p, resourceVersion: '2' });
    pods.delete('ns', 'p');
    expect(seen).toEqual(['add p', 'update p', 'delete p']);
  });

  it('validConfig fills defaults and throws on unknown keys', () => {
    const s = object({ a: str('d'), tags: tags() });
    expect(validConfig(s, {}).a).toBe('d');
    expect(() => validConfig(s, { nope: 1 })).toThrow(/nope/);
  });
});
