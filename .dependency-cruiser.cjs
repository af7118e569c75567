/**
 * The direction imports run (agent/README.md): inputs → agent's services and
 * contracts → the core, with no circles. test/core/structure.test.ts runs this
 * over agent/, cli/ and inputs/ (type-only imports included) and fails on any
 * violation.
 */
/** Tests beside the code may use test/helpers and bench payloads; the rules are about what ships. */
const TESTS = '\\.test\\.ts$';

module.exports = {
  forbidden: [
    { name: 'agent-not-to-plugins', severity: 'error', comment: 'The core never depends on its plug-ins or on the composition root: the registry is wired in cli/.', from: { path: '^agent/', pathNot: TESTS }, to: { path: '^(inputs|cli|test|bench)/' } },
    { name: 'inputs-not-to-cli', severity: 'error', comment: 'Inputs see the agent, not the command that wires them.', from: { path: '^inputs/', pathNot: TESTS }, to: { path: '^(cli|test|bench)/' } },
    { name: 'no-circular', severity: 'error', comment: 'Two modules that import each other cannot be read, tested or changed alone.', from: {}, to: { circular: true } },
    { name: 'model-is-a-leaf', severity: 'error', comment: 'The point model and its encoders depend on nothing else in the agent.', from: { path: '^agent/model/' }, to: { path: '^agent/', pathNot: '^agent/model/' } },
    { name: 'telemetry-is-a-leaf', severity: 'error', comment: 'Logging and self-metrics depend on nothing else in the agent.', from: { path: '^agent/telemetry/' }, to: { path: '^agent/', pathNot: '^agent/telemetry/' } },
    { name: 'delivery-below-inputs', severity: 'error', comment: 'Queues, batching, retries, the disk buffer and sinks know nothing of inputs, services, the server or the runtime.', from: { path: '^agent/delivery/' }, to: { path: '^agent/(input|services|server|runtime)/' } },
    { name: 'server-below-inputs', severity: 'error', comment: 'The HTTP server knows routes, not the inputs or services that register them.', from: { path: '^agent/server/' }, to: { path: '^agent/(input|services|delivery|runtime)/' } },
    { name: 'only-the-runtime-wires', severity: 'error', comment: 'agent/runtime/ composes everything; nothing in the agent or an input depends on it except the CLI.', from: { path: '^(agent|inputs)/', pathNot: '^agent/runtime/' }, to: { path: '^agent/runtime/agent' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|(^|/)testdata/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
  },
};
