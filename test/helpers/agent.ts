/**
 * Starts an in-process agent against a TestDataway, with a temporary conf.d
 * and data dir, fast flushing, and a random HTTP port.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Agent, type AgentOptions } from '../../agent/runtime/agent.js';
import { inputs } from '../../inputs/index.js';
import { TestDataway } from './dataway.js';

export interface TestAgent {
  agent: Agent;
  /** The agent's HTTP base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  dataway: TestDataway;
  confDir: string;
  dataDir: string;
  /** Stops the agent and the dataway, removes the temp dirs. */
  stop(): Promise<void>;
}

export interface TestAgentOptions {
  /** Files to write under conf.d: relative path → TOML. */
  conf?: Record<string, string>;
  env?: Record<string, string>;
  /** Reuse a dataway (e.g. across restarts). */
  dataway?: TestDataway;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  watch?: boolean;
  extra?: Partial<AgentOptions>;
}

export function tempDir(prefix = 'telekit-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeConf(confDir: string, conf: Record<string, string>): void {
  for (const [rel, text] of Object.entries(conf)) {
    const p = path.join(confDir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
}

export async function startTestAgent(o: TestAgentOptions = {}): Promise<TestAgent> {
  const dataway = o.dataway ?? (await TestDataway.start());
  const confDir = tempDir('telekit-conf-');
  const dataDir = o.dataDir ?? tempDir('telekit-data-');
  writeConf(confDir, o.conf ?? {});
  const env: Record<string, string> = {
    ENV_DATAWAY: dataway.url,
    ENV_HTTP_LISTEN: '127.0.0.1:0',
    ENV_IO_FLUSH_INTERVAL: '100ms',
    ENV_DATAWAY_RETRY_DELAY: '50ms',
    ENV_HOSTNAME: 'test-host',
    ENV_K8S_NODE_IP: '10.0.0.1',
    ENV_SHUTDOWN_TIMEOUT: '5s',
    ...o.env,
  };
  const log = pino({ level: process.env.TELEKIT_TEST_LOG ?? 'silent' });
  let agent: Agent;
  try {
    agent = await Agent.start({ confDir, dataDir, env, log, watch: o.watch ?? false, registry: inputs, ...o.extra });
  } catch (e) {
    if (!o.dataway) await dataway.close();
    throw e;
  }
  return {
    agent,
    url: agent.httpUrl,
    dataway,
    confDir,
    dataDir,
    async stop() {
      await agent.stop();
      if (!o.dataway) await dataway.close();
      fs.rmSync(confDir, { recursive: true, force: true });
      if (!o.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
