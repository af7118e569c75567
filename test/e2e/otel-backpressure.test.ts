/**
 * Back-pressure the way the OTLP spec asks: with the tracing queue full the
 * opentelemetry input answers 503 + Retry-After, the real SDK exporter
 * (OTLP/HTTP protobuf and JSON) retries, and every span an export reported as
 * delivered reaches the dataway — nothing acknowledged is lost. Over gRPC the
 * answer is UNAVAILABLE with a RetryInfo; the JS SDK's gRPC exporter (0.223)
 * does not retry any gRPC error (the Go, Java and Python SDKs and the
 * Collector do), so there the test checks that what was acknowledged arrived
 * and what was refused was reported to the exporter as failed.
 */
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { freePort, waitFor } from '../helpers/wait.js';

let a: TestAgent | undefined;
afterEach(async () => {
  await a?.stop();
  a = undefined;
});

/** Wraps an exporter and records what each export reported. */
class Recording implements SpanExporter {
  readonly results: { ids: string[]; code: ExportResultCode }[] = [];
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.inner.export(spans, (r) => {
      this.results.push({ ids: spans.map((s) => s.spanContext().spanId), code: r.code });
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

async function requests503(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^telekit_opentelemetry_requests_total\{[^}]*code="503"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

it.each(['http/protobuf', 'http/json', 'grpc'] as const)('a full tracing queue makes the SDK exporter (%s) retry; nothing acknowledged is lost', async (proto) => {
  const gp = await freePort();
  a = await startTestAgent({
    conf: { 'otel.conf': `[[inputs.opentelemetry]]\n[inputs.opentelemetry.grpc]\naddr = "127.0.0.1:${gp}"\n` },
    env: { ENV_IO_QUEUE_CAPACITY: '40', ENV_IO_MAX_CACHE_COUNT: '20', ENV_DATAWAY_MAX_RETRY_COUNT: '20' },
  });
  // the dataway is down: batches stay queued and in flight until the queue is full
  let down = true;
  a.dataway.respond(() => (down ? { status: 503 } : undefined));

  const inner = proto === 'grpc' ? new TraceGrpc({ url: `http://127.0.0.1:${gp}`, timeoutMillis: 20_000 }) : proto === 'http/json' ? new TraceJson({ url: `${a.url}/otel/v1/traces`, timeoutMillis: 20_000 }) : new TraceProto({ url: `${a.url}/otel/v1/traces`, timeoutMillis: 20_000 });
  const exporter = new Recording(inner);
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': `bp-${proto}` }), spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 20, scheduledDelayMillis: 10, maxQueueSize: 10_000 })] });
  const tracer = provider.getTracer('bp');
  const all: string[] = [];
  for (let t = 0; t < 12; t++) {
    const root = tracer.startSpan(`op-${t}`);
    for (let i = 0; i < 9; i++) {
      const c = tracer.startSpan(`child-${i}`, {}, trace.setSpan(ROOT_CONTEXT, root));
      c.end();
      all.push(c.spanContext().spanId);
    }
    root.end();
    all.push(root.spanContext().spanId);
  }
  // the agent refuses with 503 + Retry-After once its queue is full ...
  await waitFor(async () => (await requests503(a!.url)) > 0, { timeoutMs: 15_000, what: '503 answers from the opentelemetry input' });
  // ... and the dataway comes back: the exporter's retries get through
  down = false;
  // a failed export rejects the flush (the gRPC case): the results say what happened
  await provider.forceFlush().catch(() => undefined);
  await provider.shutdown().catch(() => undefined);
  const delivered = exporter.results.filter((r) => r.code === ExportResultCode.SUCCESS).flatMap((r) => r.ids);
  if (proto === 'grpc') {
    expect(exporter.results.some((r) => r.code !== ExportResultCode.SUCCESS)).toBe(true);
  } else {
    // every export eventually succeeded: the exporter retried what was refused
    expect(exporter.results.filter((r) => r.code !== ExportResultCode.SUCCESS)).toEqual([]);
    expect(new Set(delivered)).toEqual(new Set(all));
  }
  const pts = await a.dataway.waitForPoints('tracing', (p) => new Set(p.map((x) => x.fields.span_id)).size >= delivered.length, { timeoutMs: 30_000 });
  const at = new Set(pts.map((p) => String(p.fields.span_id)));
  for (const id of delivered) expect(at.has(id), id).toBe(true);
}, 60_000);
