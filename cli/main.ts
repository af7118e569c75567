/**
 * The `telekit` command: `run` (default), `check-config`, `monitor`, `version`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, ConfigError, VERSION } from '../agent/runtime/agent.js';
import { inputs } from '../inputs/index.js';
import { formatProblem } from '../agent/config/load.js';
import { SettingsError } from '../agent/config/env.js';

const USAGE = `usage: telekit [run|check-config|monitor|version] [options]

  run             start the agent (default)
  check-config    load conf.d and the environment, list the inputs that would start; exit 1 on any error
  monitor         show a running agent's inputs, queues and sinks, refreshing in place
  version         print the version

options:
  --conf-dir DIR  conf.d folder (ENV_CONF_DIR, default ./conf.d)
  --data-dir DIR  data folder (ENV_DATA_DIR, default ./data)
  --config FILE   optional main TOML file (ENV_MAIN_CONF)
  --url URL       monitor: the agent's address (default http://127.0.0.1:9529)
  --interval MS   monitor: refresh period in milliseconds (default 1000)
  --once          monitor: print one snapshot and exit
`;

export async function main(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'conf-dir': { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      url: { type: 'string' },
      interval: { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0] ?? 'run';
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = process.env;
  const confDir = path.resolve(values['conf-dir'] ?? env.ENV_CONF_DIR ?? 'conf.d');
  const dataDir = path.resolve(values['data-dir'] ?? env.ENV_DATA_DIR ?? 'data');
  const mainConf = values.config ?? (env.ENV_MAIN_CONF || undefined);
  switch (cmd) {
    case 'version':
      process.stdout.write(`telekit ${VERSION}\n`);
      return 0;
    case 'check-config':
      return checkConfig(confDir, mainConf);
    case 'run':
      return run(confDir, dataDir, mainConf);
    case 'monitor': {
      const spec = './monitor.js'; // cli/monitor.ts
      const { runMonitor } = (await import(spec)) as { runMonitor: (o: { url: string; intervalMs: number; out: NodeJS.WritableStream; once?: boolean }) => Promise<void> };
      await runMonitor({ url: values.url ?? 'http://127.0.0.1:9529', intervalMs: Number(values.interval ?? 1000), out: process.stdout, once: values.once });
      return 0;
    }
    default:
      process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
      return 2;
  }
}

function checkConfig(confDir: string, mainConf: string | undefined): number {
  let r;
  try {
    r = Agent.check({ confDir, mainConf, registry: inputs });
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(`environment: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  for (const p of r.problems) process.stderr.write(formatProblem(p) + '\n');
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  if (errors > 0) {
    process.stderr.write(`${errors} error(s): the agent would not start\n`);
    return 1;
  }
  process.stdout.write(`inputs that would start (${r.instances.length}):\n`);
  for (const i of r.instances) process.stdout.write(`  ${i.def.name}[${i.instance}]  from ${path.relative(process.cwd(), i.source) || i.source}\n`);
  process.stdout.write(`dataway: ${r.settings.dataways.length > 0 ? `${r.settings.dataways.length} URL(s)` : 'none (files under <data dir>/out/)'}; listen ${r.settings.httpListen.host}:${r.settings.httpListen.port}\n`);
  return 0;
}

/** After ENV_SHUTDOWN_TIMEOUT, the time left for the spill to the disk buffer before the process exits regardless. */
const HARD_EXIT_MARGIN_MS = 1500;

async function run(confDir: string, dataDir: string, mainConf: string | undefined): Promise<number | undefined> {
  // Signal handlers come first: the agent answers /v1/ping before its inputs have started, and a
  // SIGTERM in that window (a pod stopped while starting) must still stop it cleanly and flush.
  let agent: Agent | undefined;
  let signalled: string | undefined;
  let stopping = false;
  const shutdown = (sig: string) => {
    signalled ??= sig;
    if (!agent) return; // during start: handled once start() returns
    const a = agent;
    if (stopping) {
      // a second signal: no more waiting for the dataway; spill what is unsent and exit
      a.expedite();
      return;
    }
    stopping = true;
    a.log.info({ signal: sig, timeoutMs: a.settings.shutdownTimeoutMs }, 'shutting down');
    // Last resort, should a step ignore the deadline: Kubernetes' grace period leaves room for this
    // (deploy/base/daemonset.yaml), so the exit is ours, not a SIGKILL.
    setTimeout(() => {
      a.log.error('shutdown overran its deadline; exiting');
      process.exit(1);
    }, a.settings.shutdownTimeoutMs + HARD_EXIT_MARGIN_MS).unref();
    a.stop().then(
      () => process.exit(0),
      (e: Error) => {
        a.log.error({ err: e.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    agent = await Agent.start({ confDir, dataDir, mainConf, registry: inputs });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SettingsError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const a = agent;
  process.on('uncaughtException', (e) => a.log.fatal({ err: e }, 'uncaught exception'));
  process.on('unhandledRejection', (e) => a.log.error({ err: e }, 'unhandled rejection'));
  if (signalled) shutdown(signalled);
  return undefined;
}
