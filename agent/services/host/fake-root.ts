/** Builds a throw-away host root (proc/, sys/, run/ ...) from a map of relative paths to contents, for tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function fakeRoot(files: Record<string, string>): { root: string; write(rel: string, text: string): void; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rootfs-'));
  const write = (rel: string, text: string) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { root, write, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
