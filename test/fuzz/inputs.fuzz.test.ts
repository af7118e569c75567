/**
 * Fuzzing the input parsers that exist: statsd lines, Prometheus exposition
 * (parser and converter), CRI/docker log lines, container log annotations,
 * the `datakit/prom.instances` and `prometheus.io/*` annotations, ddtrace
 * payloads, OTLP trace/metrics/logs requests (protobuf and JSON, decoded and
 * mapped), and conf.d TOML through the real loader and registry. Random and
 * mutated inputs must never crash a parser (only its documented errors), hang,
 * or grow memory without bound. zipkin/ddtrace HTTP routes are fuzzed in
 * test/e2e/traces-fuzz.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { validate } from '../../agent/config/schema.js';
import { loadInputs } from '../../agent/config/load.js';
import type { PodInfo } from '../../agent/services/k8s/types.js';
import { inputs as registry } from '../../inputs/index.js';
import { Aggregator } from '../../inputs/statsd/aggregator.js';
import { schema as statsdSchema } from '../../inputs/statsd/config.js';
import { aggregatorOptions } from '../../inputs/statsd/statsd.js';
import { parseEvent, parseServiceCheck } from '../../inputs/statsd/parser.js';
import { eventPoint, serviceCheckPoint } from '../../inputs/statsd/dogstatsd.js';
import { ExpositionParser } from '../../inputs/prom/parser.js';
import { Converter } from '../../inputs/prom/convert.js';
import { schema as promSchema } from '../../inputs/prom/config.js';
import { annotationInstances, prometheusInstances } from '../../inputs/prom/discovery.js';
import { detectStatus, parseCriHead, parseDockerJson, parseRfc3339Nano, stripAnsi } from '../../inputs/container/logs/parse.js';
import { resolveLogConfig } from '../../inputs/container/logs/logs-config.js';
import { Checkpoints } from '../../inputs/container/logs/checkpoint.js';
import { decodeJson, decodeMsgpack, decodeV05 } from '../../inputs/ddtrace/decode.js';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import { BadEvent, jobPoint, parseBody, pipelinePoint } from '../../inputs/gitlab/convert.js';
import { gitlabMetricPoints } from '../../inputs/gitlab/metrics.js';
import { decodeBody } from '../../inputs/opentelemetry/request.js';
import { mapTraces, type TraceRequestBody } from '../../inputs/opentelemetry/traces.js';
import { mapMetrics, type MetricsRequestBody } from '../../inputs/opentelemetry/metrics.js';
import { mapLogs, type LogsRequestBody } from '../../inputs/opentelemetry/logs.js';
import { AttrSelector } from '../../inputs/opentelemetry/select.js';
import { encodeOtlp } from '../helpers/otlp-encode.js';
import { fuzz, inputs, isError, RUNS } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const text = (b: Buffer) => b.toString('utf8');

describe('statsd', () => {
  const SEEDS = [
    'jvm.heap_used:512|g\nreq.count:1|c|@0.5|#env:prod,svc:api\nlat:12.5|ms|@0.1\nusers:alice|s\n',
    'gauge:+3|g\ngauge:-2|g\nmulti:1:2:3|d|#a:b\nhist:9|h|#x\n',
    '_e{5,4}:title|text|d:1700000000|h:host|p:low|t:error|#a:b\n_sc|svc.check|1|d:1700000000|h:h|#t:v|m:msg\n',
    'weird|metric:1|c\n:1|c\nno_type:1\nbad:x|c\nrate:1|c|@2\n',
  ];
  it('ingest + flush never throw, series stay bounded', () => {
    const v = validate(statsdSchema, {});
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const agg = new Aggregator({ ...aggregatorOptions(v.value), maxSeries: 500 });
    let i = 0;
    fuzz(inputs(SEEDS), (b) => {
      agg.ingest(text(b));
      agg.takeSpecial();
      agg.takeCounts();
      if (++i % 20 === 0) {
        const pts = agg.flush();
        for (const p of pts) expect(Object.keys(p.fields).length).toBeGreaterThan(0);
      }
      expect(agg.size).toBeLessThanOrEqual(500);
    });
  });
});

describe('DogStatsD events and service checks', () => {
  it('parse and convert without throwing', () => {
    const SEEDS = ['_e{5,4}:title|text|d:1700000000|h:host|p:low|t:error|s:src|k:key|#a:b,c', '_sc|svc.check|1|d:1700000000|h:h|#t:v|m:msg', '_e{0,0}:|', '_sc|x|9'];
    fuzz(inputs(SEEDS), (b) => {
      const line = b.toString('utf8');
      const ev = parseEvent(line);
      if (ev) expect(Object.keys(eventPoint(ev, new Set()).fields).length).toBeGreaterThan(0);
      const sc = parseServiceCheck(line);
      if (sc) serviceCheckPoint(sc, new Set());
    });
  });
});

describe('prom exposition', () => {
  const SEEDS = [fs.readFileSync(path.join(ROOT, 'inputs/prom/testdata/text004.txt'), 'utf8').slice(0, 3000), fs.readFileSync(path.join(ROOT, 'inputs/prom/testdata/openmetrics.txt'), 'utf8').slice(0, 3000)];
  const v = validate(promSchema, { urls: ['http://127.0.0.1:9100/metrics'], source: 'fuzz' });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  it('the parser never throws and reports every sample it calls back with', () => {
    fuzz(inputs(SEEDS), (b) => {
      for (const om of [false, true]) {
        let n = 0;
        const stats = new ExpositionParser(om).parse(text(b), (_name, _f, _labels, value) => {
          expect(Number.isFinite(value)).toBe(true);
          n++;
        });
        expect(stats.samples).toBe(n);
      }
    });
  });
  it('the converter never throws and yields points with fields', () => {
    const conv = new Converter(v.value);
    fuzz(inputs(SEEDS), (b) => {
      const r = conv.convert(text(b), false, { instance: 'x:1' }, 1n);
      for (const p of r.points) expect(Object.keys(p.fields).length).toBeGreaterThan(0);
    });
  });
});

describe('container log lines', () => {
  const SEEDS = [
    '2024-05-01T10:20:30.123456789Z stdout F hello world\n2024-05-01T10:20:30.1Z stderr P part\n2024-05-01T10:20:30+08:00 stdout F:x tail',
    '{"log":"ERROR boom\\n","stream":"stderr","time":"2024-05-01T10:20:30.123456789Z"}',
    '\u001b[31mWARN\u001b[0m something \u001b]0;title\u0007 done',
  ];
  it('CRI, docker JSON, timestamps, ANSI stripping and level detection never throw', () => {
    fuzz(inputs(SEEDS), (b) => {
      for (let start = 0; start < b.length; ) {
        let end = b.indexOf(10, start);
        if (end < 0) end = b.length;
        const h = parseCriHead(b, start, end, { sec: 0, ns: 0 });
        if (h) expect(h.msgStart >= start && h.msgStart <= end).toBe(true);
        start = end + 1;
      }
      const s = text(b);
      parseDockerJson(s);
      parseRfc3339Nano(s);
      parseRfc3339Nano(s.slice(0, 35));
      expect(stripAnsi(s).length).toBeLessThanOrEqual(s.length);
      detectStatus(s);
    });
  });
  it('per-container log config from env and annotations never throws', () => {
    const SEEDS_CFG = ['[{"source":"nginx","service":"web","multiline_match":"^\\\\d{4}","tags":{"a":"b"},"remove_ansi_escape_codes":true}]', '[{"disable":true}]', '{"source":"x"}'];
    fuzz(inputs(SEEDS_CFG), (b) => {
      const s = text(b);
      const r = resolveLogConfig('app', {}, { 'datakit/logs': s, 'datakit/app.logs': s.slice(1) });
      expect(typeof r.config.source).toBe('string');
      resolveLogConfig('app', { DATAKIT_LOGS_CONFIG: s }, {});
    });
  });
});

describe('container log positions file (read back after a crash)', () => {
  it('a corrupt positions.json never makes load() throw', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-fuzzpos-'));
    const seed = JSON.stringify({ positions: [{ path: '/var/log/pods/a/0.log', live: '/var/log/pods/a/0.log', dev: 1, ino: 2, fp: 'AAAA', fpLen: 3, offset: 10, updated: 1 }] });
    try {
      await fc.assert(
        fc.asyncProperty(inputs([seed, '{"positions":null}', '[]', 'null']), async (b) => {
          fs.writeFileSync(path.join(dir, 'positions.json'), b);
          await new Checkpoints(dir).load();
        }),
        { seed: 8, numRuns: Math.min(RUNS, 200) },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pod annotations', () => {
  const seedText = fs.readFileSync(fs.readdirSync('/work/shared/seeds').map((f) => path.join('/work/shared/seeds', f)).find((f) => fs.readFileSync(f, 'utf8').includes('prom.instances'))!, 'utf8');
  const m = /datakit\/prom\.instances: \|\n([\s\S]*?)\nspec:/.exec(seedText);
  const SEEDS = [m ? m[1]! : '[[inputs.prom]]\nurl = "http://$IP:9100/metrics"\n', '[[inputs.prom]]\nurls = ["http://$IP:1/m"]\ninterval = "10s"\n[inputs.prom.tags]\nns = "$NAMESPACE"\n'];
  const pod = (a: Record<string, string>): PodInfo => ({ uid: 'u', namespace: 'ns', name: 'p', nodeName: 'n', ip: '10.0.0.9', phase: 'Running', labels: {}, annotations: a, owner: undefined, containers: [], resourceVersion: '1' });
  it('datakit/prom.instances and prometheus.io/* never throw', () => {
    fuzz(inputs(SEEDS), (b) => {
      const s = text(b);
      const r = annotationInstances(pod({ 'datakit/prom.instances': s }));
      expect(Array.isArray(r.errors)).toBe(true);
      prometheusInstances(pod({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': s.slice(0, 6), 'prometheus.io/path': s, 'prometheus.io/scheme': s.slice(0, 5) }));
    });
  });
});

describe('ddtrace payloads (decoders)', () => {
  const span = { service: 's', name: 'n', resource: 'r', trace_id: 1, span_id: 2, parent_id: 0, start: 1, duration: 2, error: 0, meta: { a: 'b' }, metrics: { _sampling_priority_v1: 1 }, type: 'web' };
  const SEEDS = [pack([[span]]), pack([['s', 'n', 'r', 'a', 'b'], [[[0, 1, 2, 1, 2, 0, 1, 2, 0, { 3: 4 }, {}, 0]]]]), Buffer.from(JSON.stringify([[span]]))];
  it('msgpack v0.4, v0.5 and JSON decoders throw only BadRequest', () => {
    fuzz(inputs(SEEDS), (b) => {
      for (const dec of [decodeMsgpack, decodeV05, decodeJson]) {
        try {
          dec(b);
        } catch (e) {
          if (!(e instanceof BadRequest)) throw e;
        }
      }
    });
  });
});

describe('OTLP requests (opentelemetry input)', () => {
  const data = (f: string) => fs.readFileSync(path.join(ROOT, 'inputs/opentelemetry/testdata', f), 'utf8');
  const json = { traces: data('istio/otlp.json'), metrics: data('metrics.json'), logs: data('logs.json') };
  const select = new AttrSelector(['reg:^istio'], false);
  const map = (signal: keyof typeof json, req: unknown) =>
    signal === 'traces' ? mapTraces(req as TraceRequestBody, { select, decimalIds: false, splitService: true, message: true }) : signal === 'metrics' ? mapMetrics(req as MetricsRequestBody) : mapLogs(req as LogsRequestBody, { maxMessage: 100, decimalIds: true });
  for (const signal of ['traces', 'metrics', 'logs'] as const) {
    it(`${signal}: protobuf and JSON bodies decode and map, throwing only BadRequest`, () => {
      const seeds = [encodeOtlp(signal, JSON.parse(json[signal])), json[signal]];
      fuzz(inputs(seeds, 8192), (b) => {
        for (const ct of ['application/x-protobuf', 'application/json']) {
          try {
            map(signal, decodeBody(signal, ct, b));
          } catch (e) {
            if (!(e instanceof BadRequest)) throw e;
          }
        }
      });
    });
    it(`${signal}: OTLP/JSON with values of the wrong type anywhere maps without throwing`, () => {
      const WEIRD: unknown[] = [5, -1, 1e308, 'x', 'ffff', '', null, true, {}, [], { a: 1 }, [1, '2'], { low: 1, high: 2 }, { stringValue: 3 }];
      const seed = JSON.parse(json[signal]) as unknown;
      // each node is replaced by a weird value when its draw hits 0 (mod 9)
      const mutate = (v: unknown, draws: number[], i: { n: number }): unknown => {
        const d = draws[i.n++ % draws.length]!;
        if (d % 9 === 0) return WEIRD[d % WEIRD.length];
        if (Array.isArray(v)) return v.map((x) => mutate(x, draws, i));
        if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mutate(x, draws, i)]));
        return v;
      };
      fuzz(fc.array(fc.nat(), { minLength: 7, maxLength: 64 }), (draws) => {
        const body = Buffer.from(JSON.stringify(mutate(seed, draws, { n: 0 })));
        try {
          const r = map(signal, decodeBody(signal, 'application/json', body));
          JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        } catch (e) {
          if (!(e instanceof BadRequest)) throw e;
        }
      });
    });
  }
});

describe('gitlab', () => {
  const data = (f: string) => fs.readFileSync(path.join(ROOT, 'inputs/gitlab/testdata', f), 'utf8');
  it('webhook bodies throw only BadEvent', () => {
    fuzz(inputs([data('pipeline.json'), data('job.json')]), (b) => {
      try {
        const ev = parseBody(b);
        for (const conv of [pipelinePoint, jobPoint]) {
          try {
            conv(ev, b.toString('utf8'), new Set(['a']));
          } catch (e) {
            if (!(e instanceof BadEvent)) throw e;
          }
        }
      } catch (e) {
        if (!(e instanceof BadEvent)) throw e;
      }
    });
  });
  it('metrics text never throws', () => {
    fuzz(inputs([data('metrics.txt').slice(0, 4000)]), (b) => {
      for (const p of gitlabMetricPoints(b.toString('utf8'), 'gitlab:80')) expect(Object.keys(p.fields).length).toBeGreaterThan(0);
    });
  });
});

describe('conf.d TOML', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-fuzzconf-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const samples = fs
    .readdirSync(path.join(ROOT, 'conf.d'))
    .flatMap((d) => fs.readdirSync(path.join(ROOT, 'conf.d', d)).filter((f) => f.endsWith('.conf')).map((f) => path.join(ROOT, 'conf.d', d, f)))
    .map((f) => fs.readFileSync(f, 'utf8'));
  it('the loader reports problems (with a file) instead of throwing', () => {
    const file = path.join(dir, 'x.conf');
    fuzz(
      inputs(samples),
      (b) => {
        fs.writeFileSync(file, b);
        const r = loadInputs({ confDir: dir, env: {}, registry, defaultEnabled: [] });
        for (const p of r.problems) expect(p.file).toBeTruthy();
      },
      { numRuns: Math.min(RUNS, 150), maxMsPerRun: 500 },
    );
    expect(samples.length).toBeGreaterThan(0);
  });
  it('ENV_INPUT_* overrides with random values are reported, not thrown', () => {
    fc.assert(
      fc.property(fc.constantFrom(...registry.map((d) => d.name)), fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), (name, opt, value) => {
        const r = loadInputs({ env: { [`ENV_INPUT_${name.toUpperCase()}_${opt.toUpperCase()}`]: value }, registry, defaultEnabled: [name] });
        expect(Array.isArray(r.problems)).toBe(true);
      }),
      { seed: 8, numRuns: Math.min(RUNS, 200) },
    );
  });
});

void isError;
