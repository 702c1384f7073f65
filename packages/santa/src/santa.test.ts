import { Rng, createEmbeddings, embeddingsFromRows, type Embeddings } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { type SantaMemory, type SantaOptions, buildMemory, santa, transfer } from './index.js';

// A hand-made memory in 3-d (noise variance 0, rows already unit norm):
//   cluster A = { m0, m1, m2 }, cluster B = { m3, m4 }; centroids are the member means.
const m0 = [1, 0, 0];
const m1 = [0.8, 0.6, 0];
const m2 = [0.28, 0.96, 0];
const m3 = [0, 0, 1];
const m4 = [0, 0.6, 0.8];
const cA = [(1 + 0.8 + 0.28) / 3, (0 + 0.6 + 0.96) / 3, 0];
const cB = [0, 0.3, 0.9];

function handMemory(extraCentroids: number[][] = []): SantaMemory {
  const memory = embeddingsFromRows([m0, m1, m2, m3, m4]);
  const centroids = embeddingsFromRows([cA, cB, ...extraCentroids]);
  const assignments = Int32Array.from([0, 0, 0, 1, 1]);
  const k = centroids.rows;
  const clusters = Array.from({ length: k }, (_, c) => Int32Array.from([0, 1, 2, 3, 4].filter((i) => assignments[i] === c)));
  return {
    memory,
    centroids,
    assignments,
    clusters,
    info: { k, variance: 0, iterations: 1, seed: 0, maxSize: 5, implementation: 'fast', sourceRows: 5, iterationsRun: 1, converged: true },
  };
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const normalize = (v: number[]) => v.map((x) => x / norm(v));
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/** Equation 7 written out for members chosen by hand: normalise((1 - lambda) z + lambda sum softmax(z.m / tau) m). */
function equation7(z: number[], members: number[][], tau: number, lambda: number): number[] {
  const e = members.map((m) => Math.exp(dot(z, m) / tau));
  const total = e.reduce((a, b) => a + b, 0);
  const out = z.map((zj, j) => (1 - lambda) * zj + lambda * members.reduce((s, m, i) => s + (e[i] / total) * m[j], 0));
  return normalize(out);
}

const single = (v: number[]) => embeddingsFromRows([v]);
const row = (e: Embeddings, i = 0) => Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim));

function expectClose(actual: number[], expected: number[], digits = 6) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

describe('santa on a hand-made 3-d memory', () => {
  const memory = handMemory();
  const z = [2, 1, 0.5]; // closest centroid: A. Dots of normalise(z): m1 0.960 > m0 0.873 > m2 0.663.
  const zn = normalize(z);

  it('matches numpy-computed values for the paper defaults (L 32 > |A| = 3, tau 0.1, lambda 0.3)', () => {
    // numpy: w = softmax([.8729, .9602, .6634] / 0.1) = [0.28434, 0.68066, 0.03500]
    expectClose(row(santa(single(z), memory)), [0.880689934, 0.4472847001, 0.1559539584]);
    expectClose(row(santa(single(z), memory)), equation7(zn, [m0, m1, m2], 0.1, 0.3));
  });

  it('topL 2 keeps the two members closest to z (m1, m0)', () => {
    expectClose(row(santa(single(z), memory, { topL: 2 })), [0.8843107515, 0.4402436049, 0.1554993991]);
    expectClose(row(santa(single(z), memory, { topL: 1 })), equation7(zn, [m1], 0.1, 0.3));
  });

  it('tau and lambda change the weights and the balance', () => {
    expectClose(row(santa(single(z), memory, { tau: 1 })), equation7(zn, [m0, m1, m2], 1, 0.3));
    expectClose(row(santa(single(z), memory, { lambda: 0.5, tau: 0.05 })), equation7(zn, [m0, m1, m2], 0.05, 0.5));
    expectClose(row(santa(single(z), memory, { lambda: 0 })), zn);
  });

  it('normalizeAudio false uses the raw embedding in the distances, the weights and the mix', () => {
    expectClose(row(santa(single(z), memory, { normalizeAudio: false })), [0.8713880988, 0.4543039647, 0.1851774526]);
    expectClose(row(santa(single(z), memory, { normalizeAudio: false })), equation7(z, [m0, m1, m2], 0.1, 0.3));
  });

  it('padClusters fills a short cluster up to L with copies of its first member', () => {
    expectClose(row(santa(single(z), memory, { topL: 5, padClusters: true })), equation7(zn, [m0, m1, m2, m0, m0], 0.1, 0.3));
    // Padding changes the result only when the cluster is short.
    expectClose(row(santa(single(z), memory, { topL: 2, padClusters: true })), equation7(zn, [m1, m0], 0.1, 0.3));
  });

  it('retrieves from the cluster of the closest centroid, and skips empty clusters', () => {
    const zB = [0.1, 0.5, 0.9];
    expectClose(row(santa(single(zB), memory)), equation7(normalize(zB), [m3, m4], 0.1, 0.3));
    // A third centroid exactly at z, with no members: Santa must fall back to the nearest non-empty one (A).
    const withEmpty = handMemory([zn]);
    expectClose(row(santa(single(z), withEmpty)), equation7(zn, [m0, m1, m2], 0.1, 0.3));
  });

  it('implements the Table 4 baselines', () => {
    const z2 = [0.6, 0.5, 0.55]; // closest centroid A; over the whole memory the top 3 are m1, m4, m2.
    const z2n = normalize(z2);
    const all = [m0, m1, m2, m3, m4];
    expectClose(row(transfer('santa', single(z2), memory, { topL: 3 })), equation7(z2n, [m0, m1, m2], 0.1, 0.3));
    expectClose(row(transfer('no-kmeans', single(z2), memory, { topL: 3 })), equation7(z2n, [m1, m4, m2], 0.1, 0.3));
    expectClose(row(transfer('memory-only', single(z2), memory)), equation7(z2n, all, 0.1, 1));
    expectClose(row(transfer('no-audio', single(z2), memory, { topL: 3 })), equation7(z2n, [m0, m1, m2], 0.1, 1));
    expectClose(row(transfer('noise-only', single(z2), memory)), z2n);
    // topL 1 over 5 rows takes the sparse mixing path (block much larger than L).
    expectClose(row(transfer('no-kmeans', single(z2), memory, { topL: 1 })), equation7(z2n, [m1], 0.1, 0.3));
    expect(() => transfer('bogus' as never, single(z2), memory)).toThrow(/unknown method "bogus"/);
  });

  it('queryNoise draws fresh noise on the retrieved entries: seeded, unit norm, and ~0 variance gives back plain Santa', () => {
    const noisy = (seed: number, variance = 0.015) => row(santa(single(z), memory, { queryNoise: variance, rng: new Rng(seed) }));
    expect(noisy(1)).toEqual(noisy(1));
    expect(noisy(1)).not.toEqual(noisy(2));
    expect(norm(noisy(1))).toBeCloseTo(1, 6);
    expect(Math.max(...noisy(1).map((v, i) => Math.abs(v - row(santa(single(z), memory))[i])))).toBeGreaterThan(1e-3);
    expectClose(noisy(3, 1e-14), row(santa(single(z), memory)), 5);
    expect(() => santa(single(z), memory, { queryNoise: 0.01 })).toThrow(/needs an rng/);
  });

  it('a batch gives bit-identical rows to single queries', () => {
    const rng = new Rng(5);
    const batch = createEmbeddings(7, 3);
    rng.fillNormal(batch.data);
    const options: SantaOptions = { topL: 2 };
    for (const method of ['santa', 'no-kmeans', 'memory-only'] as const) {
      const all = transfer(method, batch, memory, options);
      for (let i = 0; i < batch.rows; i++) {
        expect(row(transfer(method, single(row(batch, i)), memory, options))).toEqual(row(all, i));
      }
    }
  });

  it('rejects bad input with specific errors', () => {
    expect(() => santa(single([Number.NaN, 0, 1]), memory)).toThrow(/non-finite value NaN at row 0, column 0/);
    expect(() => santa(single([1, 0]), memory)).toThrow(/expected dim 3, got 2/);
    expect(() => santa(createEmbeddings(0, 3), memory)).toThrow(/is empty/);
    expect(() => santa(single(z), memory, { topL: 0 })).toThrow(/topL must be a positive integer/);
    expect(() => santa(single(z), memory, { tau: 0 })).toThrow(/tau must be a finite number > 0/);
    expect(() => santa(single(z), memory, { lambda: 1.5 })).toThrow(/lambda must be in \[0, 1\]/);
    expect(() => santa(single([0, 0, 0]), memory)).toThrow(/all zeros/);
  });
});

describe('santa on a built memory', () => {
  it('agrees with a brute-force reading of equations 6-7 on 20 queries, with unit-norm outputs', () => {
    const rng = new Rng(11);
    const text = createEmbeddings(400, 16);
    rng.fillNormal(text.data);
    const memory = buildMemory(text, { k: 8, variance: 0.015, seed: 1 });
    const audio = createEmbeddings(20, 16);
    rng.fillNormal(audio.data);
    const out = santa(audio, memory, { topL: 10 });
    const mem = Array.from({ length: memory.memory.rows }, (_, j) => row(memory.memory, j));
    const cents = Array.from({ length: memory.centroids.rows }, (_, c) => row(memory.centroids, c));
    const sq = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);
    for (let i = 0; i < out.rows; i++) {
      expect(norm(row(out, i))).toBeCloseTo(1, 6);
      const z = normalize(row(audio, i));
      const closest = cents.map((c, k) => [sq(z, c), k]).sort((a, b) => a[0] - b[0])[0][1];
      const members = mem
        .map((m, j) => ({ m, j, d: sq(z, m) }))
        .filter(({ j }) => memory.assignments[j] === closest)
        .sort((a, b) => a.d - b.d)
        .slice(0, 10)
        .map(({ m }) => m);
      expectClose(row(out, i), equation7(z, members, 0.1, 0.3), 5);
    }
  });
});
