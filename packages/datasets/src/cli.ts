#!/usr/bin/env node
/**
 * mats-data: generate the synthetic world and inspect dataset files.
 *   mats-data world --out DIR [--seed N] [--size small|default|large] [--sample-rate HZ] [--clip-seconds S]
 *   mats-data inspect FILE [--examples N]
 *   mats-data convert DATASET --root DIR --out FILE [--split S] [--limit N] [--descriptions FILE] ...
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createProgress } from '@mats/core';
import { generateWorld, writeWorld, WORLD_SIZES, type WorldSize } from './soundworld/index.js';
import { inspectFile, formatInspection } from './inspect.js';
import { CONVERTERS, convertDataset, formatSummary } from './convert/index.js';

const USAGE = `usage:
  mats-data world --out DIR [--seed N] [--size small|default|large] [--sample-rate HZ] [--clip-seconds S]
  mats-data inspect FILE [--examples N]     (JSONL of AudioTIA records or any JSON/JSONL dataset file;
                                           records are validated: exit 1 when any is invalid)
  mats-data convert DATASET --root DIR --out FILE [--split S] [--limit N] [--descriptions FILE]
            [--audio-dir DIR] [--format jsonl|eval] [--skip-bad] [--require-audio] [--write-descriptions FILE]
  mats-data convert --help                  (the data sets and the layout each expects)`;

const BOOLEAN_FLAGS = new Set(['skip-bad', 'require-audio']);

function convertHelp(): string {
  const lines = ['mats-data convert DATASET --root DIR --out FILE.jsonl: the publisher layout under DIR -> AudioTIA JSONL.', '', 'data sets (task, audio type, default --split, expected layout):'];
  for (const c of Object.values(CONVERTERS)) {
    lines.push(`  ${c.name.padEnd(13)} ${c.title} [${c.task}, ${c.audioType}, --split ${c.splits.join('|')} (default ${c.defaultSplit})]`);
    lines.push(`  ${''.padEnd(13)} ${c.layout}`);
  }
  lines.push('', 'audio paths in the output are relative to the output file\'s folder. Classification sets take --descriptions (label -> descriptions);',
    'without it the text is the label names and the summary says so. Question sets (clothoaqa, openaqa, musicqa, mmau) need --descriptions (clip -> descriptions).');
  return lines.join('\n');
}

function parseFlags(args: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--') && BOOLEAN_FLAGS.has(a.slice(2))) flags.set(a.slice(2), 'true');
    else if (a.startsWith('--')) {
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
  if (command === 'convert' && (rest.length === 0 || rest.includes('--help') || rest.includes('-h'))) {
    console.log(convertHelp());
    return rest.length === 0 ? 1 : 0;
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
  if (command === 'convert') {
    const known = new Set(['root', 'out', 'split', 'limit', 'descriptions', 'audio-dir', 'format', 'skip-bad', 'require-audio', 'write-descriptions']);
    for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
    if (positional.length !== 1) throw new Error(`convert: expected one DATASET (one of ${Object.keys(CONVERTERS).join(', ')})\n${USAGE}`);
    const root = flags.get('root');
    const out = flags.get('out');
    if (!root || !out) throw new Error(`convert: --root DIR and --out FILE are required\n${USAGE}`);
    const format = flags.get('format') ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'eval') throw new Error(`--format must be jsonl or eval, got "${format}"`);
    const progress = createProgress({ label: `converting ${positional[0]}`, unit: 'records', mode: process.stderr.isTTY ? 'bar' : 'silent' });
    const summary = await convertDataset({
      dataset: positional[0], root, out, split: flags.get('split'), limit: intFlag(flags, 'limit', 0), descriptions: flags.get('descriptions'),
      audioDir: flags.get('audio-dir'), format, skipBad: flags.has('skip-bad'), requireAudio: flags.has('require-audio'),
      writeDescriptions: flags.get('write-descriptions'), onProgress: (n) => progress.update(n),
    }).finally(() => progress.stop());
    console.log(formatSummary(summary));
    return 0;
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
