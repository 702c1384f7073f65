/**
 * The training input pipeline in bounded memory. Run:  npx tsx packages/datasets/bench/input-pipeline.bench.ts
 *
 * Generates AudioTIA-shaped records (text only) in three JSONL sources (weights 5:3:2), then, in a
 * fresh child process per size so that peak RSS is that size's own, streams them through the pipeline
 * the trainer uses: RecordStream (read + validate + shuffle buffer of 4096 per source + weighted mix),
 * tokenise (a hash word tokenizer into a [batch, 64] id matrix with its mask) and embed with a
 * deterministic hash text encoder (feature hashing into 1024 dimensions, L2-normalised: no model), in
 * batches of 128. One JSON line per size: `datasets/input-pipeline`, records/s, with `peakRssMiB` and
 * `liveHeapMiB` (V8 heap in use after a full GC at the end: what the pipeline really holds).
 *
 * The child runs with a V8 old-space cap (BENCH_HEAP_MIB, default 160 MiB; 0 = none). Without a cap V8
 * grows its heap lazily with the amount allocated, not retained, so peak RSS then rises with the
 * number of records even though the live heap stays flat (measured: 178 / 226 / 330 MiB at 10 k / 100 k /
 * 1 M with the live heap at about 50 MiB); under the cap a pipeline that kept records would run out of heap.
 * BENCH_SIZES=10000,100000 picks the sizes (default 10 k, 100 k, 1 M); BENCH_QUICK=1 means 2 k, 20 k, 200 k.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashString } from '@mats/core';
import { JsonlWriter, RecordStream, type AudioTIARecord, type StreamSource } from '../src/index.js';

const BATCH = 128;
const MAX_TOKENS = 64;
const DIM = 1024;
const SHUFFLE = 4096;
const WEIGHTS = [5, 3, 2];
const WORDS = 'a the dog barks loudly while rain falls on roof then car passes by and bird sings softly in distance man speaks woman laughs engine hums bell rings twice music plays piano guitar drums slow fast'.split(' ');

/** Writes n records split over the three sources in proportion to their weights. */
async function generate(dir: string, n: number): Promise<StreamSource[]> {
  const total = WEIGHTS.reduce((a, b) => a + b, 0);
  const sources: StreamSource[] = [];
  let written = 0;
  for (const [s, w] of WEIGHTS.entries()) {
    const count = s === WEIGHTS.length - 1 ? n - written : Math.round((n * w) / total);
    const path = join(dir, `source-${s}.jsonl`);
    const writer = new JsonlWriter(path);
    for (let i = 0; i < count; i++) {
      const k = written + i;
      const len = 8 + (k % 9);
      const text = Array.from({ length: len }, (_, j) => WORDS[(k * 31 + j * 7 + (k >> 3)) % WORDS.length]).join(' ');
      const task = (['cls', 'cap', 'aqa'] as const)[k % 3];
      const r: AudioTIARecord = {
        id: `bench/${s}/${i}`, text, task, audioType: 'sound', source: `bench-${s}`, audio: `audio/${k}.wav`,
        instruction: task === 'cls' ? 'Classify events in the audio clip.' : task === 'cap' ? 'Generate audio caption.' : `What happens after the ${WORDS[k % WORDS.length]}?`,
        answer: task === 'cap' ? text : WORDS[(k * 13) % WORDS.length],
      };
      await writer.write(r);
    }
    await writer.close();
    written += count;
    sources.push({ name: `source-${s}`, path, weight: w });
  }
  return sources;
}

/** The pipeline on n records; returns what it did (run in the child). */
async function pipeline(sources: StreamSource[], n: number): Promise<{ seconds: number; checksum: number; tokens: number }> {
  const t0 = performance.now();
  const stream = await RecordStream.open(sources, { seed: 0, shuffleBuffer: SHUFFLE });
  const ids = new Int32Array(BATCH * MAX_TOKENS);
  const mask = new Uint8Array(BATCH * MAX_TOKENS);
  const emb = new Float32Array(BATCH * DIM);
  let checksum = 0;
  let tokens = 0;
  for (let done = 0; done < n; done += BATCH) {
    const batch = await stream.take(Math.min(BATCH, n - done));
    ids.fill(0);
    mask.fill(0);
    emb.fill(0);
    batch.forEach(({ record }, b) => {
      // Tokenise instruction + answer.
      const words = `${record.instruction} ${record.answer}`.split(' ');
      const len = Math.min(MAX_TOKENS, words.length);
      for (let t = 0; t < len; t++) {
        ids[b * MAX_TOKENS + t] = hashString(words[t]) % 50257;
        mask[b * MAX_TOKENS + t] = 1;
      }
      tokens += len;
      // Hash text encoder: each word adds +-1 at 4 hashed positions; then L2-normalise.
      const row = b * DIM;
      for (const w of record.text.split(' ')) {
        let h = hashString(w);
        for (let k = 0; k < 4; k++) {
          emb[row + (h % DIM)] += h & 0x400 ? 1 : -1;
          h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
        }
      }
      let norm = 0;
      for (let j = 0; j < DIM; j++) norm += emb[row + j] * emb[row + j];
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = 0; j < DIM; j++) emb[row + j] *= inv;
      checksum = (checksum + ids[b * MAX_TOKENS] + record.ordinal) % 1_000_000_007;
    });
  }
  await stream.close();
  return { seconds: (performance.now() - t0) / 1000, checksum, tokens };
}

const CHILD = process.env.BENCH_PIPELINE_CHILD;
if (CHILD) {
  const { dir, n } = JSON.parse(CHILD) as { dir: string; n: number };
  const sources = WEIGHTS.map((w, s) => ({ name: `source-${s}`, path: join(dir, `source-${s}.jsonl`), weight: w }));
  const result = await pipeline(sources, n);
  // maxRSS is in KiB (Linux).
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  (globalThis as { gc?: () => void }).gc?.();
  console.log(JSON.stringify({ ...result, peakRssMiB, liveHeapMiB: process.memoryUsage().heapUsed / 2 ** 20 }));
} else {
  const sizes = process.env.BENCH_SIZES
    ? process.env.BENCH_SIZES.split(',').map(Number)
    : process.env.BENCH_QUICK === '1' ? [2_000, 20_000, 200_000] : [10_000, 100_000, 1_000_000];
  const script = fileURLToPath(import.meta.url);
  const rss: number[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'mats-pipeline-bench-'));
    try {
      const g0 = performance.now();
      await generate(dir, n);
      const generateSeconds = (performance.now() - g0) / 1000;
      const heap = Number(process.env.BENCH_HEAP_MIB ?? 160);
      const flags = ['--expose-gc', ...(heap > 0 ? [`--max-old-space-size=${heap}`] : [])];
      const child = spawnSync(process.execPath, [...process.execArgv, ...flags, script], { env: { ...process.env, BENCH_PIPELINE_CHILD: JSON.stringify({ dir, n }) }, encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`pipeline child for ${n} records failed (${child.status}): ${child.stderr.slice(-2000)}`);
      const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { seconds: number; peakRssMiB: number; liveHeapMiB: number; tokens: number };
      const value = n / r.seconds;
      rss.push(r.peakRssMiB);
      console.log(`input-pipeline ${n} records: ${value.toFixed(0)} records/s, peak RSS ${r.peakRssMiB.toFixed(1)} MiB, live heap ${r.liveHeapMiB.toFixed(1)} MiB (generation ${generateSeconds.toFixed(1)} s)`);
      console.log(JSON.stringify({
        benchmark: 'datasets/input-pipeline', value, unit: 'records/s', higherIsBetter: true, samples: [value],
        params: { items: n, peakRssMiB: Math.round(r.peakRssMiB * 10) / 10, liveHeapMiB: Math.round(r.liveHeapMiB * 10) / 10, heapCapMiB: heap, pipelineSeconds: Math.round(r.seconds * 100) / 100, batch: BATCH, shuffleBuffer: SHUFFLE, dim: DIM, sources: WEIGHTS.length, tokens: r.tokens },
      }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ratio = Math.max(...rss) / Math.min(...rss);
  console.log(`peak RSS from ${sizes[0]} to ${sizes[sizes.length - 1]} records: ${rss.map((x) => x.toFixed(1)).join(' / ')} MiB, max/min ${ratio.toFixed(2)} (target: within 1.3)`);
  if (ratio > 1.3) {
    console.error(`input-pipeline: peak RSS is not flat (max/min ${ratio.toFixed(2)} > 1.3)`);
    process.exitCode = 1;
  }
}
