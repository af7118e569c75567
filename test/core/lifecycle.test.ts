/**
 * One lifecycle test over every registered input: start → stop → start again
 * on the same ports, through the real agent, with the input's sample.conf.
 * Stop must release ports and routes; a second start must succeed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputs } from '../../inputs/index.js';
import { startTestAgent, tempDir } from '../helpers/agent.js';
import { freePort, freeTcpUdpPort } from '../helpers/wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Makes a sample safe to run in a test: loopback ports, empty log roots. */
async function testConf(name: string, sample: string): Promise<string> {
  let conf = sample;
  if (name === 'statsd') conf = conf.replace(/service_address\s*=\s*"[^"]*"/, `service_address = "127.0.0.1:${await freeTcpUdpPort()}"`);
  // port 0: a port picked beforehand can be taken by another test's outgoing connection before the gRPC server binds it
  if (name === 'opentelemetry') conf = conf.replace(/addr = "[^"]*"/, 'addr = "127.0.0.1:0"');
  if (name === 'zipkin') conf = conf.replace(/^(\[\[inputs\.zipkin\]\])$/m, `$1\n  listen = "127.0.0.1:${await freePort()}"`);
  if (name === 'container') {
    const d = tempDir('telekit-logs-');
    conf = conf.replace(/^(\[inputs\.container\])$/m, `$1\n  pod_logs_dir = "${d}/pods"\n  docker_logs_dir = "${d}/docker"`);
  }
  return conf;
}

describe.each(inputs.map((d) => [d.name]))('input %s', (name) => {
  it('starts, stops and starts again on the same ports', async () => {
    const sample = fs.readFileSync(path.join(ROOT, 'inputs', name, 'sample.conf'), 'utf8');
    const conf = { [`${name}/${name}.conf`]: await testConf(name, sample) };
    const port = await freePort();
    const env = { ENV_HTTP_LISTEN: `127.0.0.1:${port}` };
    const a = await startTestAgent({ conf, env });
    expect(a.agent.runningInputs()).toContain(name);
    await a.stop();
    const b = await startTestAgent({ conf, env });
    try {
      expect(b.agent.runningInputs()).toContain(name);
      expect((await fetch(`${b.url}/v1/ping`)).ok).toBe(true);
    } finally {
      await b.stop();
    }
  });
});
