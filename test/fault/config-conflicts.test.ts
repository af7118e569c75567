/**
 * Issue 16, case 6 and the smaller ones: check-config finds what `run` would
 * fail on (two statsd on one port, zipkin `listen` on the HTTP port), a hot
 * reload whose new instance cannot start rolls back to the running ones and
 * counts `rejected`, instances per input are capped, an unknown top-level
 * table warns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { startTestAgent, tempDir, writeConf } from '../helpers/agent.js';
import { freeTcpUdpPort, waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const statsd = (port: number, extra = '') => `[[inputs.statsd]]\n  service_address = "127.0.0.1:${port}"\n  interval = "100ms"\n${extra}`;

async function checkConfig(conf: Record<string, string>, env: Record<string, string> = {}) {
  const dir = tempDir('telekit-cc-');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeConf(dir, conf);
  return runCli(['check-config', '--conf-dir', dir], { ENV_DEFAULT_ENABLED_INPUTS: '-', ENV_HTTP_LISTEN: '0.0.0.0:9529', ...env });
}

describe('check-config finds port conflicts before anything binds', () => {
  it('two statsd on one port, in two files', async () => {
    const r = await checkConfig({ 'statsd/a.conf': statsd(18125), 'statsd/b.conf': statsd(18125) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b\.conf: error: inputs\.statsd\[1\]\.service_address: udp port 18125 is already bound by inputs\.statsd\[0\]/);
  });

  it('zipkin listen on the HTTP server port; statsd over TCP on it too', async () => {
    const r = await checkConfig({ 'zipkin/zipkin.conf': '[[inputs.zipkin]]\n  listen = "0.0.0.0:9529"\n', 'statsd/statsd.conf': '[[inputs.statsd]]\n  protocol = "tcp"\n  service_address = ":9529"\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('inputs.zipkin[0].listen: tcp port 9529 is already bound by the HTTP server (ENV_HTTP_LISTEN)');
    expect(r.stderr).toContain('inputs.statsd[0].service_address: tcp port 9529 is already bound by the HTTP server (ENV_HTTP_LISTEN)');
  });

  it('opentelemetry: its gRPC server on zipkin\'s listener, its OTLP/HTTP listener on the HTTP port', async () => {
    const r = await checkConfig({
      'zipkin/zipkin.conf': '[[inputs.zipkin]]\n  listen = "0.0.0.0:19411"\n',
      'opentelemetry/opentelemetry.conf': '[[inputs.opentelemetry]]\n  [inputs.opentelemetry.http]\n    listen = "0.0.0.0:9529"\n  [inputs.opentelemetry.grpc]\n    addr = "0.0.0.0:19411"\n',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('inputs.opentelemetry[0].http.listen: tcp port 9529 is already bound by the HTTP server (ENV_HTTP_LISTEN)');
    expect(r.stderr).toMatch(/inputs\.(opentelemetry\[0\]\.grpc\.addr|zipkin\[0\]\.listen): tcp port 19411 is already bound by inputs\.(zipkin|opentelemetry)\[0\]/);
  });

  it('no conflict: UDP and TCP on one port, two statsd on two ports', async () => {
    const r = await checkConfig({ 'statsd/statsd.conf': `${statsd(18125)}\n[[inputs.statsd]]\n  protocol = "tcp"\n  service_address = ":18125"\n${statsd(18126)}` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('caps the instances of one input (ENV_MAX_INPUT_INSTANCES, default 64); an unknown top-level table warns', async () => {
    const many = Array.from({ length: 65 }, () => '[[inputs.mem]]\n').join('');
    const r = await checkConfig({ 'mem/mem.conf': many });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('inputs.mem: 65 instances, more than ENV_MAX_INPUT_INSTANCES (64)');
    expect((await checkConfig({ 'mem/mem.conf': many }, { ENV_MAX_INPUT_INSTANCES: '100' })).code).toBe(0);
    const w = await checkConfig({ 'mem/mem.conf': '[[inputs.mem]]\n\n[agent]\n  interval = "10s"\n' });
    expect(w.code).toBe(0);
    expect(w.stderr).toMatch(/mem\.conf:3: warning: agent: unknown top-level table/);
  });
});

describe('a hot reload whose new instance cannot start', () => {
  it('rolls back to the running instances and counts rejected', async () => {
    const [p1, taken] = [await freeTcpUdpPort(), await freeTcpUdpPort()];
    // someone else holds the port the new config asks for
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(taken, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())));
    const t = await startTestAgent({ conf: { 'statsd/statsd.conf': statsd(p1) } });
    cleanups.push(() => t.stop());
    writeConf(t.confDir, { 'statsd/statsd.conf': statsd(taken) });
    const r = await t.agent.reload();
    expect(r.ok).toBe(false);
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/telekit_config_reloads_total\{result="rejected"\} 1/);
    expect(t.agent.runningInputs()).toEqual(['statsd']);
    // the old statsd is back on its port and aggregates
    const client = dgram.createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    await waitFor(
      async () => {
        client.send('rolled.back:1|c', p1, '127.0.0.1');
        await new Promise((x) => setTimeout(x, 50));
        return t.dataway.points('metric', 'rolled').length > 0;
      },
      { what: 'a metric through the restored statsd' },
    );
    // a conflict between inputs is refused before anything stops
    writeConf(t.confDir, { 'statsd/statsd.conf': statsd(p1), 'statsd/two.conf': statsd(p1) });
    const r2 = await t.agent.reload();
    expect(r2.ok).toBe(false);
    expect(r2.problems.map((p) => p.message).join()).toContain(`udp port ${p1} is already bound`);
    expect(t.agent.runningInputs()).toEqual(['statsd']);
    fs.rmSync(path.join(t.confDir, 'statsd/two.conf'));
  });
});
