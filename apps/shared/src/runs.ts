import { closeSync, existsSync, statSync, writeFileSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseJson, writeFileAtomic } from '@mats/core';
import { RUN_FILES as MODEL_RUN_FILES } from '@mats/model';

/**
 * The run folder of DESIGN.md section 6:
 *   runs/<name>/config.json, mapper.safetensors, adapter_config.json + adapter_model.safetensors,
 *   santa.safetensors, metrics.jsonl, loss.png, figure3.png, checkpoints/step-N/ + checkpoints/latest.json,
 *   eval/<target>/...
 * and runs/latest -> <name>.
 */

export const RUN_FILES = {
  ...MODEL_RUN_FILES,
  metrics: 'metrics.jsonl',
  summary: 'train-summary.json',
  lossPlot: 'loss.png',
  figure3: 'figure3.png',
} as const;

export interface CheckpointRef {
  step: number;
  dir: string;
}

/**
 * Appends one JSON line to metrics.jsonl as a single write. When the write fails or is short (disk
 * full), the file is cut back to its previous length, so it never ends in a partial line, and the
 * error names the file.
 */
export function appendMetrics(runDir: string, record: Record<string, unknown>): void {
  const file = join(runDir, RUN_FILES.metrics);
  const bytes = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  const fd = openSync(file, 'a');
  const before = fstatSync(fd).size;
  try {
    let written = 0;
    while (written < bytes.length) {
      const n = writeSync(fd, bytes, written, bytes.length - written);
      if (n <= 0) throw new Error('short write');
      written += n;
    }
  } catch (err) {
    try {
      ftruncateSync(fd, before);
    } catch {
      // The original error below is the one to report; the partial line is repaired on resume.
    }
    throw new Error(`${file}: cannot append a metrics line (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
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
 * Drops a partial last line of metrics.jsonl (one not ending in a newline that is not valid JSON:
 * what a process killed or out of disk space mid-write leaves). Returns the dropped text, or null
 * when the file was whole. Lines before the last are never touched: a malformed one stays an error.
 */
export function repairMetrics(runDir: string): string | null {
  const file = join(runDir, RUN_FILES.metrics);
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  if (text.length === 0 || text.endsWith('\n')) return null;
  const cut = text.lastIndexOf('\n') + 1;
  const last = text.slice(cut);
  try {
    JSON.parse(last);
    writeFileAtomic(file, `${text}\n`); // a whole record that only lacks its newline is kept
    return null;
  } catch {
    writeFileAtomic(file, text.slice(0, cut));
    return last;
  }
}

/**
 * On resume, drops metric lines logged after the checkpoint step (the killed run got further than
 * its last checkpoint), so the resumed log matches an uninterrupted one. A partial last line is
 * dropped first (see `repairMetrics`).
 */
export function truncateMetrics(runDir: string, lastStep: number): void {
  const file = join(runDir, RUN_FILES.metrics);
  if (!existsSync(file)) return;
  repairMetrics(runDir);
  const kept = readMetrics(runDir).filter((r) => typeof r.step !== 'number' || r.step <= lastStep);
  writeFileAtomic(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * The last number logged under `key` in metrics records (e.g. 'loss', 'validationLoss'), or null. A
 * run resumed from its final checkpoint trains no step, so its summary takes the loss from here.
 */
export function lastMetricValue(metrics: Record<string, unknown>[], key: string): number | null {
  for (let i = metrics.length - 1; i >= 0; i--) {
    const v = metrics[i][key];
    if (typeof v === 'number') return v;
  }
  return null;
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
  const final = join(root, name);
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    await write(tmp);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    writeFileAtomic(join(root, 'latest.json'), `${JSON.stringify({ step, dir: name })}\n`);
  } catch (err) {
    const newest = newestFile(tmp);
    rmSync(tmp, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    const detail = e.path ? `${e.code ?? 'error'} on ${e.path}` : e.message;
    throw new Error(`checkpoint step ${step} of ${runDir} not written${newest ? ` (failed while writing ${newest})` : ''}: ${detail}; the previous checkpoint is kept`, { cause: err });
  }
  // Keep the newest `keep` checkpoints; remove older ones and stray temporary folders.
  const steps = readdirSync(root)
    .filter((f) => /^step-\d+$/.test(f))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(root, old), { recursive: true, force: true });
  for (const f of readdirSync(root)) if (f.endsWith('.tmp')) rmSync(join(root, f), { recursive: true, force: true });
  return { step, dir: final };
}

/** The most recently modified file in a folder (the one a failed writer was writing), or null. */
function newestFile(dir: string): string | null {
  if (!existsSync(dir)) return null;
  let best: { path: string; time: number } | null = null;
  for (const f of readdirSync(dir)) {
    const path = join(dir, f);
    const time = statSync(path).mtimeMs;
    if (!best || time >= best.time) best = { path, time };
  }
  return best?.path ?? null;
}

/**
 * Removes temporary checkpoint folders (`checkpoints/.step-N.<pid>.tmp`) that a killed or failed
 * writer left behind. Call it once the run folder is locked (see lockRun). Returns what was removed.
 */
export function cleanCheckpointTemps(runDir: string): string[] {
  const root = join(runDir, 'checkpoints');
  if (!existsSync(root)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(root)) {
    if (!f.endsWith('.tmp')) continue;
    rmSync(join(root, f), { recursive: true, force: true });
    removed.push(join(root, f));
  }
  return removed;
}

/** The checkpoint `checkpoints/latest.json` names, or null when the run has none. */
export function latestCheckpoint(runDir: string): CheckpointRef | null {
  const file = join(runDir, 'checkpoints', 'latest.json');
  if (!existsSync(file)) return null;
  let ref: { step?: unknown; dir?: unknown };
  try {
    ref = parseJson(readFileSync(file, 'utf8')) as { step?: unknown; dir?: unknown };
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
    return parseJson(text) as T;
  } catch (err) {
    throw new Error(`${what} ${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** A lock held on a run folder; `release` removes it (also done when the process exits). */
export interface RunLock {
  file: string;
  release(): void;
}

/** The lock file of a run folder: beside it, so that `--overwrite` deleting the folder keeps it. */
export function lockFileOf(runDir: string): string {
  return join(dirname(runDir), `.${basename(runDir)}.lock`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}

/**
 * Takes the lock of a run folder for this process: `<runsDir>/.<name>.lock` holding the pid, host and
 * start time, created exclusively. A lock whose process is gone (same host, pid not alive) is stale
 * and is taken over; a live one is an error naming the pid, so two trainings (or `--overwrite` of a
 * run being trained) never share one folder. Hold it from before the folder is prepared until the
 * run has finished; `release()` in a finally block.
 */
export function lockRun(runDir: string): RunLock {
  const file = lockFileOf(runDir);
  mkdirSync(dirname(file), { recursive: true });
  const me = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${file}: cannot create the run lock (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      let holder: { pid?: unknown; host?: unknown; startedAt?: unknown } = {};
      try {
        holder = parseJson(readFileSync(file, 'utf8')) as typeof holder;
      } catch {
        // an empty or torn lock file (killed while writing it) is stale
      }
      const pid = typeof holder.pid === 'number' ? holder.pid : null;
      const sameHost = holder.host === undefined || holder.host === me.host;
      if (pid !== null && (!sameHost || processAlive(pid))) {
        const where = sameHost ? `process ${pid}` : `process ${pid} on ${String(holder.host)}`;
        throw new Error(`run folder ${runDir} is in use by ${where} (since ${String(holder.startedAt)}); wait for it to finish, or remove ${file} if that process is gone`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      try {
        const now = parseJson(readFileSync(file, 'utf8')) as { pid?: unknown };
        if (now.pid === process.pid) unlinkSync(file);
      } catch {
        // already gone
      }
    };
    process.on('exit', release);
    return { file, release };
  }
  throw new Error(`${file}: could not take the run lock (another process took it over at the same time)`);
}
