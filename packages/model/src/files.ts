/** The files of a run folder, and where its component paths point. */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TINY_CLAP_WORLD_DIR } from '@mats/clap';
import { TINY_WORLD_LM_DIR } from '@mats/llm-lora';

/** Names of the files a trained run folder holds (DESIGN.md section 6). */
export const RUN_FILES = {
  config: 'config.json',
  mapper: 'mapper.safetensors',
  adapterConfig: 'adapter_config.json',
  adapterModel: 'adapter_model.safetensors',
  santa: 'santa.safetensors',
} as const;

/** The model description `MatsModel.save` writes (a trainer's run folder has config.json instead). */
export const MODEL_FILE = 'model.json';

/** The committed world models, which a run names as `asset:<name>` so it opens wherever the packages are installed. */
const ASSETS: Record<string, string> = {
  'tiny-clap-world': TINY_CLAP_WORLD_DIR,
  'tiny-gpt2-world': TINY_WORLD_LM_DIR,
};

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function workspaceRoot(from: string): string | null {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Resolves a component path of a run: `asset:<name>` is a committed world model of the installed
 * packages; an absolute path is kept; a relative one is looked up against the folder the run was
 * trained in (`baseDir` recorded by the trainer, else the workspace above the run folder, else the
 * current folder). A relative path to the committed world assets that exists nowhere else opens the
 * installed asset of the same name.
 */
export function resolveComponent(path: string, where: { runDir: string; baseDir?: string }, field: string): string {
  if (path.startsWith('asset:')) {
    const asset = ASSETS[path.slice('asset:'.length)];
    if (!asset) throw new Error(`${field}: unknown asset "${path}" (known: ${Object.keys(ASSETS).map((a) => `asset:${a}`).join(', ')})`);
    return asset;
  }
  if (isAbsolute(path)) return path;
  const bases = [where.baseDir, workspaceRoot(where.runDir), process.cwd()].filter((b): b is string => typeof b === 'string');
  for (const base of bases) {
    const candidate = resolve(base, path);
    if (existsSync(candidate)) return candidate;
  }
  const name = path.replace(/\/+$/, '').split('/').pop()!;
  if (/(^|\/)assets\/[^/]+\/?$/.test(path) && ASSETS[name]) return ASSETS[name];
  return resolve(bases[0], path);
}

/** How `save` records a component: `asset:<name>` for a committed world model, else the absolute path. */
export function storeComponent(path: string): string {
  const real = realOrSelf(resolve(path));
  for (const [name, dir] of Object.entries(ASSETS)) if (realOrSelf(dir) === real) return `asset:${name}`;
  return real;
}
