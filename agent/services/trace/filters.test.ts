import { describe, expect, it } from 'vitest';
import { TraceFilters, deriveSpanTypes, sampled } from './filters.js';
import { defaultTraceOptions } from './options.js';
import { TraceProcessor } from './processor.js';
import type { TraceSpan } from './span.js';

function span(over: Partial<TraceSpan> = {}): TraceSpan {
  return { traceId: '1234567890', spanId: '1', parentId: '0', service: 'svc', operation: 'op', resource: 'GET /a', sourceType: 'web', spanType: '', startUs: 1_000_000, durationUs: 10, error: false, tags: {}, ...over };
}

describe('trace filters, in DataKit order', () => {
  it('close_resource drops per service and for "*", before the error rule', () => {
    const f = new TraceFilters(defaultTraceOptions({ close_resource: { svc: ['^GET /health'], '*': ['^PING$'] } }));
    expect(f.check([span({ resource: 'GET /healthz', error: true })])).toBe('closed');
    expect(f.check([span({ service: 'other', resource: 'GET /healthz' })])).toBeUndefined();
    expect(f.check([span({ service: 'other', resource: 'PING' })])).toBe('closed');
    const g = new TraceFilters(defaultTraceOptions({ ignore_resources: ['^GET /a$'] }));
    expect(g.check([span()])).toBe('closed');
  });

  it('an error span keeps the trace past the sampler; omit_err_status clears listed HTTP codes first', () => {
    const f = new TraceFilters(defaultTraceOptions({ sampler: { sampling_rate: 0 }, omit_err_status: ['404'] }));
    expect(f.check([span(), span({ spanId: '2', error: true, httpStatusCode: '500' })])).toBeUndefined();
    const t = [span({ error: true, httpStatusCode: '404' })];
    expect(f.check(t)).toBe('sampled_out');
    expect(t[0]!.error).toBe(false);
  });

  it('keep_rare_resource keeps a resource unseen for an hour, then samples it', () => {
    let now = 0;
    const f = new TraceFilters(defaultTraceOptions({ keep_rare_resource: true, sampler: { sampling_rate: 0 } }), () => now);
    expect(f.check([span()])).toBeUndefined();
    now = 1000;
    expect(f.check([span()])).toBe('sampled_out');
    now += 3_600_001;
    expect(f.check([span()])).toBeUndefined();
  });

  it('a _dd.origin=rum span keeps the trace', () => {
    const f = new TraceFilters(defaultTraceOptions({ sampler: { sampling_rate: 0 } }));
    expect(f.check([span({ origin: 'rum' })])).toBeUndefined();
    expect(f.check([span({ origin: 'synthetics' })])).toBe('sampled_out');
  });

  it('the sampler decides by trace id: deterministic, close to the rate', () => {
    expect(sampled('10009999', 0.5)).toBe(false);
    expect(sampled('10000001', 0.5)).toBe(true);
    let kept = 0;
    for (let i = 0; i < 10_000; i++) if (sampled(String(7_000_000_000_000 + i * 7919), 0.3)) kept++;
    expect(kept / 10_000).toBeGreaterThan(0.27);
    expect(kept / 10_000).toBeLessThan(0.33);
    let hexKept = 0;
    for (let i = 0; i < 10_000; i++) if (sampled((0x9e3779b97f4a7c15n * BigInt(i + 1)).toString(16).slice(-16).padStart(16, '0'), 0.3)) hexKept++;
    expect(hexKept / 10_000).toBeGreaterThan(0.27);
    expect(hexKept / 10_000).toBeLessThan(0.33);
  });
});

describe('span types and the processor', () => {
  it('derives entry/local/exit the same way for small and large traces', () => {
    const mk = () => [span({ spanId: 'a' }), span({ spanId: 'b', parentId: 'a' }), span({ spanId: 'c', parentId: 'b' }), span({ spanId: 'd', parentId: 'a', service: 'db' }), span({ spanId: 'e', parentId: 'missing' })];
    const small = mk();
    deriveSpanTypes(small);
    expect(small.map((s) => s.spanType)).toEqual(['entry', 'local', 'exit', 'entry', 'entry']);
    const big = [...mk(), ...Array.from({ length: 20 }, (_, i) => span({ spanId: `x${i}`, parentId: 'zz' }))];
    deriveSpanTypes(big);
    expect(big.slice(0, 5).map((s) => s.spanType)).toEqual(['entry', 'local', 'exit', 'entry', 'entry']);
  });

  it('maps spans to points; fixed tags win over span tags; ignore_tags drops span tags', () => {
    const p = new TraceProcessor('zipkin', defaultTraceOptions({ ignore_tags: ['^secret'] }));
    const r = p.process([[span({ tags: { service: 'spoof', secret_token: 'x', project: 'p' }, message: '{}' })]]);
    expect(r.points[0]).toMatchObject({ category: 'tracing', name: 'zipkin', tags: { service: 'svc', source: 'zipkin', project: 'p', status: 'ok', span_type: 'entry' }, fields: { start: 1_000_000n, duration: 10n, message: '{}' }, time: 1_000_000_000n });
    expect(r.points[0]!.tags.secret_token).toBeUndefined();
  });
});

describe('trace options from env', () => {
  it('ENV_INPUT_<NAME>_SAMPLER takes the bare rate as DataKit does, or a JSON table', async () => {
    const { traceOptionShape } = await import('./options.js');
    const issues: { key: string; message: string }[] = [];
    const f = traceOptionShape.sampler;
    expect(f.parse(f.fromEnv('0.3', 'sampler', issues), 'sampler', issues)).toEqual({ sampling_rate: 0.3 });
    expect(f.parse(f.fromEnv('{"sampling_rate":0.5}', 'sampler', issues), 'sampler', issues)).toEqual({ sampling_rate: 0.5 });
    expect(issues).toEqual([]);
    f.parse(f.fromEnv('2', 'sampler', issues), 'sampler', issues);
    expect(issues.length).toBe(1);
  });
});
