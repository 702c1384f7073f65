import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface SpiceOptions {
  /** Path to spice-1.0.jar (its lib/ folder with Stanford CoreNLP must sit beside it). */
  jar: string;
  /** The java executable; default `java` on the PATH. */
  java?: string;
  /** Passed to SPICE's `-cache`; default: none (no cache). */
  cacheDir?: string;
  /** JVM heap; pycocoevalcap uses -Xmx8G. */
  maxHeap?: string;
}

export type SpiceOutcome =
  | { available: true; corpus: number; perItem: number[] }
  | { available: false; reason: string };

/**
 * Runs the SPICE jar as pycocoevalcap's Spice does (`java -jar -Xmx8G spice-1.0.jar in.json -out
 * out.json -subset -silent`) on already tokenised captions and reads `scores.All.f` per item; the
 * corpus score is the mean of the per-item F-scores. Never estimates: when the jar or Java is
 * missing, or the jar fails (e.g. Stanford CoreNLP is not in its lib/), the outcome says why. A jar
 * that runs but writes an unreadable result is an error.
 */
export function runSpice(ids: string[], candidates: string[], references: string[][], options: SpiceOptions): SpiceOutcome {
  const jar = resolve(options.jar);
  if (!existsSync(jar)) return { available: false, reason: `SPICE jar not found: ${jar}` };
  const java = options.java ?? 'java';
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { available: false, reason: `Java is not available (${java} -version failed: ${probe.error?.message ?? probe.stderr.trim()})` };
  }
  const work = mkdtempSync(join(tmpdir(), 'mats-spice-'));
  try {
    const inFile = join(work, 'input.json');
    const outFile = join(work, 'output.json');
    const input = ids.map((id, i) => ({ image_id: id, test: candidates[i], refs: references[i] }));
    writeFileSync(inFile, JSON.stringify(input, null, 2));
    const args = ['-jar', `-Xmx${options.maxHeap ?? '8G'}`, jar, inFile, '-out', outFile, '-subset', '-silent'];
    if (options.cacheDir) args.splice(4, 0, '-cache', resolve(options.cacheDir));
    const run = spawnSync(java, args, { cwd: dirname(jar), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.error || run.status !== 0) {
      // reported, not thrown: the other metrics stay usable, and SPICE is clearly absent
      const detail = run.error?.message ?? (run.stderr.trim().slice(-1500) || '(no error output)');
      return { available: false, reason: `SPICE failed: ${java} ${args.join(' ')} exited with ${run.status}: ${detail}` };
    }
    const results = JSON.parse(readFileSync(outFile, 'utf8')) as { image_id: unknown; scores?: { All?: { f?: unknown } } }[];
    if (!Array.isArray(results)) throw new Error(`SPICE output ${outFile}: expected a JSON array`);
    const byId = new Map<string, number>();
    for (const [row, r] of results.entries()) {
      const f = r?.scores?.All?.f;
      // pycocoevalcap's float_convert turns anything unparsable into NaN
      const value = typeof f === 'number' ? f : typeof f === 'string' && f.trim() !== '' && !Number.isNaN(Number(f)) ? Number(f) : NaN;
      if (r?.image_id === undefined) throw new Error(`SPICE output row ${row}: missing image_id`);
      byId.set(String(r.image_id), value);
    }
    const perItem = ids.map((id) => {
      const v = byId.get(id);
      if (v === undefined) throw new Error(`SPICE output has no score for id ${JSON.stringify(id)}`);
      return v;
    });
    const corpus = perItem.reduce((a, b) => a + b, 0) / perItem.length;
    return { available: true, corpus, perItem };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
