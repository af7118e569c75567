#!/usr/bin/env node
// The telekit command. The TypeScript sources are compiled to dist/ by `npm ci`/`npm run build` (the prepare script),
// and dist/cli/main.js with what it imports is bundled into dist/bundle/ (scripts/bundle.mjs: faster start, less memory).
import { main } from '../dist/bundle/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
