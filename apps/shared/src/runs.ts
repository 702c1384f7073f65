import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '@mats/core';

/**
 * The run folder of DESIGN.md section 6:
 *   runs/<name>/config.json, mapper.safetensors, adapter_config.json + adapter_model.safetensors,
 *   santa.safetensors, metrics.jsonl, loss.png, figure3.png, checkpoints/step-N/ + checkpoints/latest.json,
 *   eval/<target>/...
 * and runs/latest -> <name>.
 */

export const RUN_FILES = {
  config: 'config.json',
  mapper: 'mapper.safetensors',
  adapterConfig: 'adapter_config.json',
  adapterModel: 'adapter_model.safetensors',
  santa: 'santa.safetensors',
  metrics: 'metrics.jsonl',
  summary: 'train-summary.json',
  lossPlot: 'loss.png',
  figure3: 'figure3.png',
} as const;

export interface CheckpointRef {
  step: number;
  dir: string;
}

/** Appends one JSON line to metrics.jsonl. */
export function appendMetrics(runDir: string, record: Record<string, unknown>): void {
  appendFileSync(join(runDir, RUN_FILES.metrics), `${JSON.stringify(record)}\n`);
}

/** Reads metrics.jsonl (an absent file is empty). A malformed line is an error naming the line. */
export function readMetrics(runDir: string): Record<string, unknown>[] {
  const file = join(runDir, RUN_FILES.metrics);
  if (!existsSync(file)) return [];
  const out: Record<string, unknown>[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new Error(`${file}: line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
      }
    });
  return out;
}

/**
 * On resume, drops metric lines logged after the checkpoint step (the killed run got further than
 * its last checkpoint), so the resumed log matches an uninterrupted one.
 */
export function truncateMetrics(runDir: string, lastStep: number): void {
  const file = join(runDir, RUN_FILES.metrics);
  if (!existsSync(file)) return;
  const kept = readMetrics(runDir).filter((r) => typeof r.step !== 'number' || r.step <= lastStep);
  writeFileAtomic(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** Points `<runsDir>/latest` at the run folder (a relative symlink, replaced atomically). */
export function pointLatest(runDir: string): void {
  const runsDir = dirname(runDir);
  const link = join(runsDir, 'latest');
  const tmp = join(runsDir, `.latest.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  symlinkSync(relative(runsDir, runDir), tmp);
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) {
    unlinkSync(tmp);
    throw new Error(`${link} exists and is not a symlink; move it away so the latest run can be linked there`);
  }
  renameSync(tmp, link);
}

/**
 * Writes a checkpoint: `write` fills a temporary folder, which is then renamed to
 * `checkpoints/step-<N>` and recorded in `checkpoints/latest.json` (written atomically). A killed
 * process leaves at most a stray temporary folder, never a half-written checkpoint under its name.
 */
export async function writeCheckpoint(runDir: string, step: number, write: (dir: string) => Promise<void> | void, keep: number): Promise<CheckpointRef> {
  const root = join(runDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const name = `step-${String(step).padStart(8, '0')}`;
  const tmp = join(root, `.${name}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await write(tmp);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeFileAtomic(join(root, 'latest.json'), `${JSON.stringify({ step, dir: name })}\n`);
  // Keep the newest `keep` checkpoints; remove older ones and stray temporary folders.
  const steps = readdirSync(root)
    .filter((f) => /^step-\d+$/.test(f))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(root, old), { recursive: true, force: true });
  for (const f of readdirSync(root)) if (f.endsWith('.tmp')) rmSync(join(root, f), { recursive: true, force: true });
  return { step, dir: final };
}

/** The checkpoint `checkpoints/latest.json` names, or null when the run has none. */
export function latestCheckpoint(runDir: string): CheckpointRef | null {
  const file = join(runDir, 'checkpoints', 'latest.json');
  if (!existsSync(file)) return null;
  let ref: { step?: unknown; dir?: unknown };
  try {
    ref = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof ref.step !== 'number' || typeof ref.dir !== 'string') throw new Error(`${file}: expected { "step": number, "dir": string }`);
  const dir = join(runDir, 'checkpoints', basename(ref.dir));
  if (!existsSync(dir)) throw new Error(`${file} names ${dir}, which does not exist`);
  return { step: ref.step, dir };
}

/** Writes a JSON file atomically, pretty-printed. */
export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON file with an error naming it. */
export function readJson<T = unknown>(path: string, what = 'JSON file'): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${what} ${path}: not valid JSON (${(err as Error).message})`);
  }
}
