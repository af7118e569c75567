/**
 * "Load only what runs" (BENCHMARKS.md, issue 22): an agent loads the code of
 * the inputs it runs, the Kubernetes client only where there is an API, and
 * protobuf only for v2 bodies. Runs the built agent in a child process and
 * reads the modules it loaded.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, assertBuilt } from '../helpers/cli.js';

const HOST_INPUTS = 'cpu,disk,diskio,mem,swap,system,hostobject,net';
let dirs: string[] = [];

async function loaded(env: Record<string, string>): Promise<{ running: string[]; modules: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-lazy-'));
  dirs.push(dir);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENV_') && !k.startsWith('KUBE')));
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'test/fixtures/loaded-modules.mjs'), dir], { env: { ...clean, ENV_HOSTNAME: 'lazy', ...env }, timeout: 30_000 });
  return JSON.parse(stdout) as { running: string[]; modules: string[] };
}

const has = (modules: string[], re: RegExp) => modules.filter((m) => re.test(m));
const K8S_CLIENT = /dist\/agent\/services\/k8s\/client\.js$/;
const TRACE = /dist\/agent\/services\/trace\/(?!options)|dist\/inputs\/(ddtrace|zipkin)\/(?!index|config)/;
const PROTOBUF = /node_modules\/protobufjs\//;
const OTLP = /node_modules\/@opentelemetry\/(?!api\/)/; // @opentelemetry/api is prom-client's (exemplars)
const MSGPACK = /node_modules\/msgpackr\//;
// fastify's schema compilers and inject(): no route of the agent has a schema (agent/server/server.ts)
const FASTIFY_UNUSED = /node_modules\/(ajv|ajv-formats|light-my-request|@fastify\/(ajv-compiler|fast-json-stringify-compiler))\//;

beforeAll(() => assertBuilt());
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('an agent loads only what it runs', () => {
  it('with host inputs only: no trace receivers or workers, no Kubernetes client, protobuf, msgpack, OTLP exporter, schema compiler or TOML parser', async () => {
    const r = await loaded({ ENV_DEFAULT_ENABLED_INPUTS: HOST_INPUTS });
    expect(r.running.sort()).toEqual(HOST_INPUTS.split(',').sort());
    expect(has(r.modules, /dist\/inputs\/cpu\/index\.js$/)).toHaveLength(1); // the list is real
    expect(has(r.modules, K8S_CLIENT)).toEqual([]);
    expect(has(r.modules, TRACE)).toEqual([]);
    expect(has(r.modules, PROTOBUF)).toEqual([]);
    expect(has(r.modules, OTLP)).toEqual([]);
    expect(has(r.modules, MSGPACK)).toEqual([]);
    expect(has(r.modules, FASTIFY_UNUSED)).toEqual([]);
    expect(has(r.modules, /node_modules\/toml\//)).toEqual([]); // no conf file to parse
    expect(has(r.modules, /node_modules\/fastify\/fastify\.js$/).length).toBeGreaterThan(0); // the server runs
    expect(has(r.modules, /dist\/inputs\/(statsd|prom|container)\/(?!index|config|filter)/)).toEqual([]);
  });

  it('loads an input\'s code when it runs, and protobuf once a point is queued for v2 bodies', async () => {
    // statsd on an ephemeral port: the default 8125 may be held by another process on a shared machine
    const r = await loaded({ ENV_DEFAULT_ENABLED_INPUTS: 'ddtrace,statsd', ENV_INPUT_STATSD_SERVICE_ADDRESS: '127.0.0.1:0', ENV_DATAWAY_CONTENT_ENCODING: 'v2', ENV_DATAWAY: 'http://127.0.0.1:9/?token=tkn_lazy', TEST_WRITE: '1' });
    expect(r.running.sort()).toEqual(['ddtrace', 'statsd']);
    expect(has(r.modules, /dist\/inputs\/ddtrace\/input\.js$/)).toHaveLength(1);
    expect(has(r.modules, /dist\/inputs\/statsd\/statsd\.js$/)).toHaveLength(1);
    expect(has(r.modules, PROTOBUF).length).toBeGreaterThan(0);
    expect(has(r.modules, K8S_CLIENT)).toEqual([]); // still no Kubernetes API
  });
});
