import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * Relative paths in a config and on the command line are resolved against one base folder: the nx
 * workspace root (the folder with nx.json above the current directory), so `npx nx run trainer:train`
 * - which nx runs inside apps/trainer - and `node apps/trainer/dist/main.js` from the root agree.
 * Outside a workspace the base is the current directory; MATS_BASE_DIR overrides both.
 */
export function baseDir(): string {
  if (process.env.MATS_BASE_DIR) return resolve(process.env.MATS_BASE_DIR);
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** Resolves a config path against the base folder (absolute paths are kept). */
export function resolvePath(path: string, base = baseDir()): string {
  return isAbsolute(path) ? path : resolve(base, path);
}
