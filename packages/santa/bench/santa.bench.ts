/**
 * Santa at the paper's size: memory build (M = 5172 texts, d = 1024, K = 100, 10 k-means iterations,
 * noise variance 0.015) for each k-means implementation, and Santa throughput for batches of 1 and
 * 256 queries. The same work in scikit-learn / numpy: tools/bench_santa_reference.py. Run:
 *   npx tsx packages/santa/bench/santa.bench.ts
 * Env: BENCH_IMPLEMENTATIONS=fast,ml-kmeans (ml-kmeans takes minutes: one run, no warm-up),
 *      BENCH_REPEATS=3.
 */
import { Rng, createEmbeddings, type Embeddings } from '@mats/core';
import { type KmeansImplementation, buildMemory, santa } from '../src/index.js';

const M = 5172;
const DIM = 1024;
const K = 100;
const ITERATIONS = 10;
const VARIANCE = 0.015;
const TOPICS = 200;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const IMPLEMENTATIONS = (process.env.BENCH_IMPLEMENTATIONS ?? 'fast,ml-kmeans').split(',') as KmeansImplementation[];

/** Text-like embeddings: TOPICS Gaussian topic centres, each row its topic plus N(0, 0.7^2) (as the reference script). */
function syntheticEmbeddings(rows: number, seed: number): Embeddings {
  const rng = new Rng(seed);
  const topics = new Float32Array(TOPICS * DIM);
  rng.fillNormal(topics);
  const e = createEmbeddings(rows, DIM);
  for (let i = 0; i < rows; i++) {
    const t = rng.int(TOPICS) * DIM;
    for (let j = 0; j < DIM; j++) e.data[i * DIM + j] = topics[t + j] + 0.7 * rng.normal();
  }
  return e;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function report(benchmark: string, unit: string, higherIsBetter: boolean, samples: number[], params: Record<string, unknown>, label: string): void {
  const value = median(samples);
  console.log(`${benchmark}: ${value.toFixed(unit === 's' ? 3 : 1)} ${unit} (${label}; median of ${samples.length})`);
  console.log(JSON.stringify({ benchmark, value, unit, higherIsBetter, samples, params }));
}

/** CPU seconds of the last time() call's repetitions (the machine is shared: wall time includes waiting). */
let lastCpuSeconds: number[] = [];

/** Runs fn `warmup` times unmeasured, then `repeats` times; returns wall seconds per run. */
function time(fn: () => void, warmup: number, repeats: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  lastCpuSeconds = [];
  for (let i = 0; i < repeats; i++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    fn();
    samples.push((performance.now() - t) / 1000);
    const used = process.cpuUsage(cpu);
    lastCpuSeconds.push((used.user + used.system) / 1e6);
  }
  return samples;
}

const texts = syntheticEmbeddings(M, 1);
const memoryParams = { M, dim: DIM, k: K, iterations: ITERATIONS, variance: VARIANCE, init: 'k-means++' };
let memory = buildMemory(texts, { k: K, iterations: ITERATIONS, variance: VARIANCE, seed: 0, implementation: 'fast' });

for (const implementation of IMPLEMENTATIONS) {
  const slow = implementation === 'ml-kmeans';
  let iterationsRun = 0;
  const samples = time(
    () => {
      memory = buildMemory(texts, { k: K, iterations: ITERATIONS, variance: VARIANCE, seed: 0, implementation });
      iterationsRun = memory.info.iterationsRun;
    },
    slow ? 0 : 1,
    slow ? 1 : REPEATS,
  );
  report(`santa/memory-build-${implementation}`, 's', false, samples, { ...memoryParams, implementation, iterationsRun, cpuSeconds: lastCpuSeconds }, `k-means ${implementation}, ${iterationsRun} iterations run`);
}

const queries = syntheticEmbeddings(256, 2);
for (const batch of [1, 256]) {
  // Batch 1: 256 separate calls per sample; batch 256: one call per sample, repeated 8 times.
  const calls = batch === 1 ? 256 : 8;
  const inputs = Array.from({ length: 256 / batch }, (_, b) => createEmbeddings(batch, DIM, queries.data.slice(b * batch * DIM, (b + 1) * batch * DIM)));
  const samples = time(
    () => {
      for (let c = 0; c < calls; c++) santa(inputs[c % inputs.length], memory);
    },
    1,
    Math.max(REPEATS, 5),
  ).map((seconds) => (calls * batch) / seconds);
  report(`santa/santa-queries-batch${batch}`, 'queries/s', true, samples, { M, dim: DIM, k: K, topL: 32, tau: 0.1, lambda: 0.3, batch, cpuSeconds: lastCpuSeconds }, `batch ${batch}`);
}
