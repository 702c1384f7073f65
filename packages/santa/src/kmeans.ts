import { Rng } from '@mats/core';
import { kmeans as mlKmeans } from 'ml-kmeans';
import { LeftOperand, squaredDistanceAt, squaredRowNorms } from './linalg.js';

/** Which k-means implementation runs the clustering. */
export type KmeansImplementation = 'fast' | 'ml-kmeans';

export interface KmeansOptions {
  /** Number of clusters K (1 <= K <= rows). */
  k: number;
  /** Maximum number of Lloyd iterations (each: assign, then recompute centroids). */
  iterations: number;
  /** Seed of the k-means++ initialisation. */
  seed: number;
  /** 'fast' (typed arrays, distances as a matrix product) or 'ml-kmeans' (the npm package). */
  implementation?: KmeansImplementation;
  /** Start from these centroids (K x dim, row-major) instead of k-means++. */
  initialCentroids?: Float32Array | Float64Array;
  /** Stop when no centroid moved by more than this squared distance (ml-kmeans' default 1e-6). */
  tolerance?: number;
}

export interface KmeansResult {
  /** K x dim, row-major. Each is the mean of its members (an empty cluster keeps its previous centroid). */
  centroids: Float64Array;
  /** Cluster of every row, from the last assignment step. */
  assignments: Int32Array;
  /** Lloyd iterations run. */
  iterations: number;
  converged: boolean;
}

/**
 * Lloyd's k-means with ml-kmeans' exact semantics, so both implementations give the same clustering
 * from the same start: assign every point to its nearest centroid (ties: lowest index), recompute
 * centroids as member means (an empty cluster keeps its centroid), stop after `iterations` steps or
 * when every centroid moved by at most `tolerance` (squared distance).
 */
export function kmeans(data: Float32Array, rows: number, dim: number, options: KmeansOptions): KmeansResult {
  const { k, iterations } = options;
  const tolerance = options.tolerance ?? 1e-6;
  if (!Number.isInteger(k) || k < 1) throw new Error(`kmeans: k must be a positive integer, got ${k}`);
  if (k > rows) throw new Error(`kmeans: k = ${k} clusters is more than the ${rows} points to cluster`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`kmeans: iterations must be a positive integer, got ${iterations}`);
  if (options.initialCentroids && options.initialCentroids.length !== k * dim) {
    throw new Error(`kmeans: initialCentroids has ${options.initialCentroids.length} values, expected k * dim = ${k} * ${dim}`);
  }
  const implementation = options.implementation ?? 'fast';
  if (implementation === 'ml-kmeans') return runMlKmeans(data, rows, dim, options, tolerance);
  if (implementation !== 'fast') throw new Error(`kmeans: unknown implementation "${implementation}" (expected 'fast' or 'ml-kmeans')`);

  let centroids = options.initialCentroids
    ? Float64Array.from(options.initialCentroids)
    : kmeansPlusPlus(data, rows, dim, k, new Rng(options.seed));
  const assignments = new Int32Array(rows);
  const points = new LeftOperand(data, rows, dim);
  const counts = new Int32Array(k);
  let step = 0;
  let converged = false;
  while (!converged && step < iterations) {
    step++;
    // Nearest centroid: argmin_c ||c||^2 - 2 x.c (||x||^2 is the same for every c).
    const centroidNorms = squaredRowNorms(centroids, k, dim);
    const products = points.product(centroids, k);
    for (let i = 0; i < rows; i++) {
      let best = 0;
      let bestDistance = Infinity;
      const o = i * k;
      for (let c = 0; c < k; c++) {
        const distance = centroidNorms[c] - 2 * products[o + c];
        if (distance < bestDistance) {
          bestDistance = distance;
          best = c;
        }
      }
      assignments[i] = best;
    }
    const next = new Float64Array(k * dim);
    counts.fill(0);
    for (let i = 0; i < rows; i++) {
      const c = assignments[i];
      counts[c]++;
      const o = c * dim;
      const x = i * dim;
      for (let j = 0; j < dim; j++) next[o + j] += data[x + j];
    }
    for (let c = 0; c < k; c++) {
      const o = c * dim;
      if (counts[c] === 0) {
        for (let j = 0; j < dim; j++) next[o + j] = centroids[o + j];
      } else {
        const inv = counts[c];
        for (let j = 0; j < dim; j++) next[o + j] /= inv;
      }
    }
    converged = true;
    for (let c = 0; c < k && converged; c++) {
      if (squaredDistanceAt(next, c * dim, centroids, c * dim, dim) > tolerance) converged = false;
    }
    centroids = next;
  }
  return { centroids, assignments, iterations: step, converged };
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii; as scikit-learn does it): the first centroid uniformly,
 * then each next one as the best of 2 + floor(ln K) candidates drawn with probability proportional to
 * the squared distance to the nearest chosen centroid, "best" meaning the lowest total potential.
 */
export function kmeansPlusPlus(data: Float32Array, rows: number, dim: number, k: number, rng: Rng): Float64Array {
  if (k > rows) throw new Error(`kmeans++: k = ${k} clusters is more than the ${rows} points`);
  const trials = 2 + Math.floor(Math.log(k));
  const centroids = new Float64Array(k * dim);
  const norms = squaredRowNorms(data, rows, dim);
  const first = rng.int(rows);
  centroids.set(data.subarray(first * dim, (first + 1) * dim), 0);
  const closest = new Float64Array(rows);
  for (let i = 0; i < rows; i++) closest[i] = squaredDistanceAt(data, i * dim, data, first * dim, dim);
  const candidateRows = new Float32Array(trials * dim);
  const candidateIds = new Int32Array(trials);
  const points = new LeftOperand(data, rows, dim);
  let best = new Float64Array(rows);
  let trial = new Float64Array(rows);
  for (let c = 1; c < k; c++) {
    let potential = 0;
    for (let i = 0; i < rows; i++) potential += closest[i];
    for (let t = 0; t < trials; t++) {
      const id = potential > 0 ? sampleProportional(closest, potential * rng.uniform()) : rng.int(rows);
      candidateIds[t] = id;
      candidateRows.set(data.subarray(id * dim, (id + 1) * dim), t * dim);
    }
    const products = points.product(candidateRows, trials);
    let bestPotential = Infinity;
    let bestId = candidateIds[0];
    for (let t = 0; t < trials; t++) {
      const id = candidateIds[t];
      let sum = 0;
      for (let i = 0; i < rows; i++) {
        const distance = Math.max(0, norms[i] - 2 * products[i * trials + t] + norms[id]);
        const v = distance < closest[i] ? distance : closest[i];
        trial[i] = v;
        sum += v;
      }
      if (sum < bestPotential) {
        bestPotential = sum;
        bestId = id;
        const swap = best;
        best = trial;
        trial = swap;
      }
    }
    centroids.set(data.subarray(bestId * dim, (bestId + 1) * dim), c * dim);
    closest.set(best);
  }
  return centroids;
}

/** The first index whose cumulative weight exceeds `target` (numpy's searchsorted, side 'left' on the cumsum). */
function sampleProportional(weights: Float64Array, target: number): number {
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i];
    if (cumulative > target) return i;
  }
  // Round-off can leave target at the very end: take the last point with weight.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
  return weights.length - 1;
}

function runMlKmeans(data: Float32Array, rows: number, dim: number, options: KmeansOptions, tolerance: number): KmeansResult {
  const points: number[][] = new Array(rows);
  for (let i = 0; i < rows; i++) points[i] = Array.from(data.subarray(i * dim, (i + 1) * dim));
  let initialization: 'kmeans++' | number[][] = 'kmeans++';
  if (options.initialCentroids) {
    const init = options.initialCentroids;
    initialization = Array.from({ length: options.k }, (_, c) => Array.from(init.subarray(c * dim, (c + 1) * dim)));
  }
  const result = mlKmeans(points, options.k, { maxIterations: options.iterations, tolerance, initialization, seed: options.seed });
  const centroids = new Float64Array(options.k * dim);
  result.centroids.forEach((row, c) => centroids.set(row, c * dim));
  return { centroids, assignments: Int32Array.from(result.clusters), iterations: result.iterations, converged: result.converged };
}
