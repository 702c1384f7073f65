#!/usr/bin/env node
/**
 * mats-data: generate the synthetic world and inspect dataset files.
 *   mats-data world --out DIR [--seed N] [--size small|default|large] [--sample-rate HZ] [--clip-seconds S]
 *   mats-data inspect FILE [--examples N]
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createProgress } from '@mats/core';
import { generateWorld, writeWorld, WORLD_SIZES, type WorldSize } from './soundworld/index.js';
import { inspectFile, formatInspection } from './inspect.js';

const USAGE = `usage:
  mats-data world --out DIR [--seed N] [--size small|default|large] [--sample-rate HZ] [--clip-seconds S]
  mats-data inspect FILE [--examples N]     (JSONL of AudioTIA records or any JSON/JSONL dataset file;
                                           records are validated: exit 1 when any is invalid)`;

function parseFlags(args: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else {
        const v = args[i + 1];
        if (v === undefined || v.startsWith('--')) throw new Error(`option ${a} needs a value\n${USAGE}`);
        flags.set(a.slice(2), v);
        i++;
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

function intFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${v}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  const { positional, flags } = parseFlags(rest);
  if (command === 'world') {
    const known = new Set(['out', 'seed', 'size', 'sample-rate', 'clip-seconds']);
    for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
    const out = flags.get('out');
    if (!out) throw new Error(`world: --out DIR is required\n${USAGE}`);
    const size = (flags.get('size') ?? 'default') as WorldSize;
    if (!(size in WORLD_SIZES)) throw new Error(`--size must be one of ${Object.keys(WORLD_SIZES).join('|')}, got "${size}"`);
    const clipSeconds = flags.has('clip-seconds') ? Number(flags.get('clip-seconds')) : 2;
    const t0 = Date.now();
    const world = generateWorld({ seed: intFlag(flags, 'seed', 0), size, sampleRate: intFlag(flags, 'sample-rate', 16000), clipSeconds });
    const progress = createProgress({ total: world.clips.length, label: 'rendering clips' });
    await writeWorld(world, out, { progress });
    progress.stop();
    const c = world.manifest.counts;
    console.log(`wrote world (seed ${world.manifest.seed}, ${size}) to ${out}: ${c.pretrain} pretrain clips, ${c.train} train clips (${c.trainRecords} records), ${c.eval} eval clips, ${world.labels.length} classes, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  }
  if (command === 'inspect') {
    if (positional.length !== 1) throw new Error(`inspect: expected one FILE\n${USAGE}`);
    const report = await inspectFile(positional[0], { examples: intFlag(flags, 'examples', 3) });
    console.log(formatInspection(report));
    return report.invalid > 0 ? 1 : 0;
  }
  throw new Error(`unknown command "${command}"\n${USAGE}`);
}

// Run when executed directly as dist/cli.js (the mats-data bin, bin/mats-data.js, calls main itself;
// tests import main).
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`mats-data: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
