/**
 * The `telekit` command: `run` (default), `check-config`, `monitor`, `version`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, ConfigError, VERSION } from '../agent/runtime/agent.js';
import { inputs } from '../inputs/index.js';
import { formatProblem } from '../agent/config/load.js';
import { SettingsError } from '../agent/config/env.js';
import { choosePipelineDir, confFolders, DATAKIT_DIR, type ConfFolders } from './datakit-paths.js';
import { loadScripts, pipelineDirOf } from '../agent/services/pipeline/store.js';

const USAGE = `usage: telekit [run|check-config|monitor|pipeline|version] [options]

  run             start the agent (default)
  check-config    load conf.d and the environment, list the inputs that would start; exit 1 on any error
                  --from-manifest FILE: check a DataKit DaemonSet manifest for the move to telekit instead
  monitor         show a running agent's inputs, queues and sinks, refreshing in place
  pipeline S      run Pipeline script S (a file, or a name in the pipeline folder) over --text or --file
  version         print the version

options:
  --conf-dir DIR  conf.d folder (ENV_CONF_DIR, default ./conf.d)
  --data-dir DIR  data folder (ENV_DATA_DIR, default ./data)
  --config FILE   optional main TOML file (ENV_MAIN_CONF)
  --datakit-dir DIR  DataKit's folder: its conf.d is read after ours when present (default ${DATAKIT_DIR})
  --pipeline-dir DIR  Pipeline scripts (ENV_PIPELINE_DIR, default pipeline/ beside conf.d)
  --text LINE     pipeline: the message to run the script over
  --file FILE     pipeline: a file whose text is the message
  --timezone TZ   pipeline: zone of times without one (+8, Asia/Shanghai; default the process's)
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
      'datakit-dir': { type: 'string' },
      'from-manifest': { type: 'string' },
      url: { type: 'string' },
      interval: { type: 'string' },
      once: { type: 'boolean' },
      'pipeline-dir': { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      timezone: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0] ?? 'run';
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = process.env;
  const folders = confFolders(values['conf-dir'] ?? env.ENV_CONF_DIR ?? 'conf.d', values['datakit-dir']);
  const dataDir = path.resolve(values['data-dir'] ?? env.ENV_DATA_DIR ?? 'data');
  const mainConf = values.config ?? (env.ENV_MAIN_CONF || undefined);
  const pipelineDir = choosePipelineDir(pipelineDirOf(values['pipeline-dir'], env, folders.confDirs), values['pipeline-dir'] !== undefined || !!env.ENV_PIPELINE_DIR, folders);
  switch (cmd) {
    case 'version':
      process.stdout.write(`telekit ${VERSION}\n`);
      return 0;
    case 'check-config':
      if (values['from-manifest'] !== undefined) return checkManifestFile(values['from-manifest']);
      return checkConfig(folders, mainConf, pipelineDir);
    case 'run':
      return run(folders, dataDir, mainConf, pipelineDir);
    case 'pipeline': {
      // imported by name so that scripts/bundle.mjs follows it into a chunk of its own
      const { runPipelineCommand } = await import('./pipeline.js');
      return runPipelineCommand({ script: positionals[1], text: values.text, file: values.file, timezone: values.timezone ?? (env.ENV_PIPELINE_TIMEZONE || undefined), pipelineDir, out: process.stdout, err: process.stderr });
    }
    case 'monitor': {
      const { runMonitor } = await import('./monitor.js');
      await runMonitor({ url: values.url ?? 'http://127.0.0.1:9529', intervalMs: Number(values.interval ?? 1000), out: process.stdout, once: values.once });
      return 0;
    }
    default:
      process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
      return 2;
  }
}

function checkConfig(folders: ConfFolders, mainConf: string | undefined, pipelineDir: string | undefined): number {
  let r;
  try {
    r = Agent.check({ confDir: folders.confDirs, mainConf, registry: inputs });
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(`environment: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  for (const p of r.problems) process.stderr.write(formatProblem(p) + '\n');
  // every Pipeline script is loaded: `file:line:col: message` for each that does not
  const scripts = pipelineDir ? loadScripts(pipelineDir) : { scripts: [], files: [], errors: [] };
  for (const e of scripts.errors) process.stderr.write(`${e.message}\n`);
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  if (errors > 0) {
    process.stderr.write(`${errors} error(s): the agent would not start\n`);
    return 1;
  }
  process.stdout.write(`conf.d folders read: ${folders.confDirs.join(', ')}\n`);
  process.stdout.write(`inputs that would start (${r.instances.length}):\n`);
  for (const i of r.instances) process.stdout.write(`  ${i.def.name}[${i.instance}]  from ${path.relative(process.cwd(), i.source) || i.source}\n`);
  if (pipelineDir) process.stdout.write(`pipeline scripts: ${scripts.scripts.length} loaded from ${path.relative(process.cwd(), pipelineDir) || pipelineDir}\n`);
  process.stdout.write(`dataway: ${r.settings.dataways.length > 0 ? `${r.settings.dataways.length} URL(s)` : 'none (files under <data dir>/out/)'}; listen ${r.settings.httpListen.host}:${r.settings.httpListen.port}\n`);
  if (scripts.errors.length > 0) {
    process.stderr.write(`${scripts.errors.length} Pipeline script(s) do not load: the agent would send their sources' lines unparsed\n`);
    return 1;
  }
  return 0;
}

async function checkManifestFile(file: string): Promise<number> {
  const { checkManifest, formatFindings, parseManifest } = await import('./manifest-check.js');
  let docs;
  try {
    docs = parseManifest(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    process.stderr.write(`${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const found = checkManifest(docs, inputs);
  process.stdout.write(formatFindings(file, found));
  return found.some((f) => f.status === 'error') ? 1 : 0;
}

/** After ENV_SHUTDOWN_TIMEOUT, the time left for the spill to the disk buffer before the process exits regardless. */
const HARD_EXIT_MARGIN_MS = 1500;

async function run(folders: ConfFolders, dataDir: string, mainConf: string | undefined, pipelineDir: string | undefined): Promise<number | undefined> {
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
    agent = await Agent.start({ confDir: folders.confDirs, dataDir, mainConf, pipelineDir, registry: inputs });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SettingsError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const a = agent;
  a.log.info({ confDirs: folders.confDirs, pipelineDir }, 'configuration folders read');
  process.on('uncaughtException', (e) => a.log.fatal({ err: e }, 'uncaught exception'));
  process.on('unhandledRejection', (e) => a.log.error({ err: e }, 'unhandled rejection'));
  if (signalled) shutdown(signalled);
  return undefined;
}
