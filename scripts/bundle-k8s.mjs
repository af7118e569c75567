/**
 * Replaces dist/agent/services/k8s/client.js (a re-export of @kubernetes/client-node)
 * with a bundle of only what it re-exports: see agent/services/k8s/client.ts for why.
 * Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const file = path.join(root, 'dist/agent/services/k8s/client.js');
if (!fs.readFileSync(file, 'utf8').includes("from '@kubernetes/client-node'")) {
  console.log('bundle-k8s: already a bundle'); // the script ran again without tsc in between
  process.exit(0);
}
await build({
  entryPoints: [file],
  outfile: file,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // whitespace and syntax only: stack traces keep the library's names
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // the bundled CommonJS dependencies call require() for Node's modules
  banner: { js: "import { createRequire as __telekitRequire } from 'node:module'; const require = __telekitRequire(import.meta.url);" },
});
fs.rmSync(`${file}.map`, { force: true }); // tsc's map describes the re-export, not the bundle
