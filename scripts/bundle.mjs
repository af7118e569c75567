/**
 * Bundles the built agent (dist/cli/main.js and what it imports) into dist/bundle/, which
 * bin/telekit.js runs. Run by `npm run build` after tsc and scripts/bundle-k8s.mjs.
 *
 * Why (BENCHMARKS.md, "Memory: the idle agent and start-up"): unbundled, an idle agent loads
 * ~640 files (~4 MiB of JavaScript) through Node's ES module loader. One bundle, whitespace-
 * minified, is resolved and parsed once: start-up ~40 % faster and ~10 MiB less RSS (the
 * modules' source text is held in the heap; minified, it is smaller).
 *
 * What stays as it was:
 * - code loaded on demand (`import()`: inputs' implementations, the Kubernetes client, trace
 *   code) becomes chunks loaded on demand, so "load only what runs" holds
 *   (test/core/lazy-load.test.ts checks the module graph under dist/; the bundle keeps it);
 * - `import.meta.url` in each module is rewritten to the URL of that module's file under dist/,
 *   so paths relative to a module (package.json, trace worker scripts) resolve as before;
 * - the trace inputs' worker scripts are bundled on their own into dist/bundle/workers/, which
 *   workerScript() prefers (a worker isolate loads one file: ~2 MiB less per worker);
 * - packages loaded only by inputs that need them (gRPC, the OpenTelemetry exporters,
 *   protobufjs) and native add-ons stay external: imported from node_modules as before.
 * dist/ keeps every module, so tests and tools that import dist/… directly are unchanged.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');
fs.rmSync(outdir, { recursive: true, force: true });

/** `import.meta.url` of each dist/ module, as the URL of its own file (relative to dist/, which every output file finds from its own URL). */
const metaUrl = {
  name: 'dist-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = path.relative(dist, args.path).split(path.sep).join('/');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, __telekitDist).href`), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // whitespace and syntax only: stack traces keep the functions' names
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'error',
  plugins: [metaUrl],
  metafile: !!process.env.BUNDLE_META,
  external: [
    // native add-ons (msgpackr's optional accelerator)
    'msgpackr-extract',
    '@msgpackr-extract/*',
    // loaded only by inputs or sinks that need them (OTLP, gRPC, v2 bodies): as before, from node_modules
    '@grpc/*',
    '@opentelemetry/exporter-*',
    '@opentelemetry/sdk-*',
    '@opentelemetry/otlp-*',
    'otlp-proto-root',
    'otlp-proto-root/*',
    'protobufjs',
    'protobufjs/*',
    // loaded only when used: fastify's schema compilers on a route with a schema (none of the agent's:
    // agent/server/server.ts), light-my-request by inject() (tests); ~430 KiB of code an agent never runs
    '@fastify/ajv-compiler',
    '@fastify/fast-json-stringify-compiler',
    'light-my-request',
  ],
  // dist/ is the folder above bundle/ (output files sit at different depths below it). The bundled
  // CommonJS dependencies call require() for Node's modules and the external packages.
  banner: {
    js: "import { createRequire as __telekitBundleRequire } from 'node:module'; const require = __telekitBundleRequire(import.meta.url); const __telekitDist = new URL(import.meta.url.slice(0, import.meta.url.lastIndexOf('/bundle/') + 1));",
  },
};

// the agent: bin/telekit.js runs dist/bundle/main.js
const result = await build({ ...common, entryPoints: { main: path.join(dist, 'cli/main.js') }, outdir });

// the trace inputs' worker scripts (dist/inputs/<input>/*worker.js), bundled on their own:
// workerScript() (agent/services/threads.ts) runs dist/bundle/workers/inputs/<input>/<name>.js
const workers = {};
for (const input of fs.readdirSync(path.join(dist, 'inputs'))) {
  const d = path.join(dist, 'inputs', input);
  if (!fs.statSync(d).isDirectory()) continue;
  for (const f of fs.readdirSync(d)) if (/(^|-)worker\.js$/.test(f)) workers[`inputs/${input}/${f.slice(0, -3)}`] = path.join(d, f);
}
await build({ ...common, entryPoints: workers, outdir: path.join(outdir, 'workers') });
// BUNDLE_META=file: esbuild's metafile of the agent's bundle (which input bytes went into which output file)
if (process.env.BUNDLE_META) fs.writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
