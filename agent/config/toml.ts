/**
 * TOML parsing for conf files, DataKit's annotations and `datakit.conf`, through the `toml` package,
 * loaded on the first parse: its generated parser is ~70 KiB of code that an agent configured by
 * its environment alone (the DaemonSet's ENV_DEFAULT_ENABLED_INPUTS) never runs
 * (BENCHMARKS.md, "Memory: the idle agent, session 7"). Through createRequire, so the bundle
 * (scripts/bundle.mjs) does not carry it either: it is required from node_modules when needed.
 */
import { createRequire } from 'node:module';

type Toml = { parse(text: string): unknown };
let lib: Toml | undefined;

/** Parses TOML text; throws toml's own error (with `line` and `column`) on bad input. */
export function parseToml(text: string): unknown {
  lib ??= createRequire(import.meta.url)('toml') as Toml;
  return lib.parse(text);
}
