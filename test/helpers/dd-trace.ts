/**
 * A Node program traced by the real dd-trace (`node -r dd-trace/init -e <script>`), sending
 * to the agent at `agentUrl`, with dd-trace's background features (telemetry, remote
 * configuration, runtime metrics, profiling, start-up logs) off so that only traces flow.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function spawnTraced(script: string, agentUrl: string, env: Record<string, string>, stdio: StdioOptions = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['-r', require.resolve('dd-trace/init'), '-e', script], {
    env: {
      PATH: process.env.PATH,
      DD_TRACE_AGENT_URL: agentUrl,
      DD_TRACE_FLUSH_INTERVAL: '100',
      DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
      DD_REMOTE_CONFIGURATION_ENABLED: 'false',
      DD_TRACE_STARTUP_LOGS: 'false',
      DD_RUNTIME_METRICS_ENABLED: 'false',
      DD_PROFILING_ENABLED: 'false',
      ...env,
    },
    stdio,
  });
}
