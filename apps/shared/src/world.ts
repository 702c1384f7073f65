import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateWorld, writeWorld } from '@mats/datasets';
import type { MatsConfig } from './config.js';
import { resolvePath } from './paths.js';

/**
 * Makes sure the synthetic world of the config is on disk: generates it (seeded, deterministic) when
 * its folder has no manifest.json yet, and otherwise checks that the folder holds the world the
 * config asks for.
 */
export async function ensureWorld(config: MatsConfig, log: (line: string) => void = () => {}): Promise<string> {
  if (!config.world) throw new Error('world: this config has no synthetic world (world: null)');
  const dir = resolvePath(config.world.dir);
  const manifestFile = join(dir, 'manifest.json');
  if (existsSync(manifestFile)) {
    let manifest: { format?: string; seed?: number; size?: string };
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    } catch (err) {
      throw new Error(`${manifestFile}: not valid JSON (${(err as Error).message}); delete ${dir} to generate the world again`);
    }
    if (manifest.format !== 'mats-world') throw new Error(`${manifestFile}: field "format" is ${JSON.stringify(manifest.format)}, expected "mats-world"`);
    if (manifest.seed !== config.world.seed) {
      throw new Error(`world.seed: the config asks for seed ${config.world.seed} but ${dir} holds the world of seed ${manifest.seed}; delete the folder or set world.dir elsewhere`);
    }
    if (manifest.size !== undefined && manifest.size !== config.world.size) {
      throw new Error(`world.size: the config asks for size "${config.world.size}" but ${dir} holds size "${manifest.size}"; delete the folder or set world.dir elsewhere`);
    }
    return dir;
  }
  if (!config.world.generate) throw new Error(`world.dir: ${dir} has no manifest.json and world.generate is false`);
  const t0 = Date.now();
  log(`generating the synthetic world (seed ${config.world.seed}, size ${config.world.size}) into ${dir} ...`);
  const world = generateWorld({ seed: config.world.seed, size: config.world.size });
  await writeWorld(world, dir);
  log(`world generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}
