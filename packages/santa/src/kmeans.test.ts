import { Rng } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { kmeans, kmeansPlusPlus, matmulTransposed } from './index.js';

/** Points around `centers`, each coordinate jittered by N(0, spread^2). */
function blobs(centers: number[][], perCenter: number, spread: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const dim = centers[0].length;
  const out = new Float32Array(centers.length * perCenter * dim);
  let o = 0;
  for (let p = 0; p < perCenter; p++) for (const c of centers) for (let j = 0; j < dim; j++) out[o++] = c[j] + rng.normal(0, spread);
  return out;
}

describe('matmulTransposed', () => {
  it('matches a hand-computed A B^T, including the rows and columns outside the 4x4 blocks', () => {
    // a: 5 x 2, b: 6 x 2 (both sizes leave remainders after blocks of 4).
    const a = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const b = Float64Array.from([1, 0, 0, 1, 1, 1, 2, -1, -1, 3, 0.5, 0.5]);
    const out = matmulTransposed(a, 5, b, 6, 2);
    const expected: number[] = [];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) expected.push(a[2 * i] * b[2 * j] + a[2 * i + 1] * b[2 * j + 1]);
    expect(Array.from(out)).toEqual(expected);
    expect(Array.from(out.subarray(0, 6))).toEqual([1, 2, 3, 0, 5, 1.5]);
  });
});

describe('kmeans', () => {
  it('clusters a hand-made example from given centroids', () => {
    const data = Float32Array.from([0, 0, 0, 1, 10, 0, 10, 1, 0, 2]);
    const r = kmeans(data, 5, 2, { k: 2, iterations: 10, seed: 0, initialCentroids: Float64Array.from([0, 0, 10, 0]) });
    expect(Array.from(r.assignments)).toEqual([0, 0, 1, 1, 0]);
    expect(Array.from(r.centroids)).toEqual([0, 1, 10, 0.5]);
    // Step 1 moves the centroids, step 2 finds they no longer move.
    expect(r.iterations).toBe(2);
    expect(r.converged).toBe(true);
  });

  it('keeps the centroid of an empty cluster where it was', () => {
    const data = Float32Array.from([0, 0, 1, 0, 0, 1]);
    const r = kmeans(data, 3, 2, { k: 2, iterations: 5, seed: 0, initialCentroids: Float64Array.from([0, 0, 100, 100]) });
    expect(Array.from(r.assignments)).toEqual([0, 0, 0]);
    expect(Array.from(r.centroids.subarray(2))).toEqual([100, 100]);
    expect(r.centroids[0]).toBeCloseTo(1 / 3, 7);
  });

  it('gives the same clustering as ml-kmeans from the same initial centroids', () => {
    const centers = [
      [0, 0, 0, 0, 0, 0, 0, 0],
      [3, 3, 0, 0, 1, 0, 0, 0],
      [0, 3, 3, 0, 0, -1, 0, 2],
      [-3, 0, 0, 3, 0, 0, 1, 0],
      [2, -2, 2, -2, 0, 0, 0, 0],
    ];
    const data = blobs(centers, 60, 0.4, 3);
    const rows = 300;
    const init = kmeansPlusPlus(data, rows, 8, 5, new Rng(4));
    const fast = kmeans(data, rows, 8, { k: 5, iterations: 50, seed: 0, initialCentroids: init, implementation: 'fast' });
    const ml = kmeans(data, rows, 8, { k: 5, iterations: 50, seed: 0, initialCentroids: init, implementation: 'ml-kmeans' });
    expect(Array.from(fast.assignments)).toEqual(Array.from(ml.assignments));
    expect(fast.iterations).toBe(ml.iterations);
    expect(fast.converged).toBe(ml.converged);
    fast.centroids.forEach((v, i) => expect(v).toBeCloseTo(ml.centroids[i], 9));
    // And the clustering is the planted one: every blob in one cluster.
    for (let b = 0; b < 5; b++) {
      const labels = new Set(Array.from({ length: 60 }, (_, p) => fast.assignments[p * 5 + b]));
      expect(labels.size).toBe(1);
    }
  });

  it('k-means++ is seeded, picks data rows, and spreads over the blobs', () => {
    const centers = [[0, 0], [20, 0], [0, 20], [20, 20]];
    const data = blobs(centers, 25, 0.5, 7);
    const a = kmeansPlusPlus(data, 100, 2, 4, new Rng(1));
    expect(kmeansPlusPlus(data, 100, 2, 4, new Rng(1))).toEqual(a);
    expect(kmeansPlusPlus(data, 100, 2, 4, new Rng(2))).not.toEqual(a);
    const rowsOf = new Set(Array.from({ length: 100 }, (_, i) => `${data[2 * i]},${data[2 * i + 1]}`));
    const nearest = new Set<number>();
    for (let c = 0; c < 4; c++) {
      expect(rowsOf.has(`${Math.fround(a[2 * c])},${Math.fround(a[2 * c + 1])}`)).toBe(true);
      nearest.add(Math.round(a[2 * c] / 20) * 2 + Math.round(a[2 * c + 1] / 20));
    }
    expect(nearest.size).toBe(4); // one initial centroid per blob
  });

  it('rejects K > rows, K < 1 and zero iterations', () => {
    const data = new Float32Array(6);
    expect(() => kmeans(data, 3, 2, { k: 4, iterations: 5, seed: 0 })).toThrow(/k = 4 clusters is more than the 3 points/);
    expect(() => kmeans(data, 3, 2, { k: 0, iterations: 5, seed: 0 })).toThrow(/k must be a positive integer/);
    expect(() => kmeans(data, 3, 2, { k: 2, iterations: 0, seed: 0 })).toThrow(/iterations must be a positive integer/);
    expect(() => kmeans(data, 3, 2, { k: 2, iterations: 1, seed: 0, implementation: 'x' as never })).toThrow(/unknown implementation "x"/);
  });
});
