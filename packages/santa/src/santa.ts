import { type Embeddings, Rng, createEmbeddings, l2NormalizeInPlace, validateEmbeddings } from '@mats/core';
import { matmulTransposed, squaredRowNorms } from './linalg.js';
import { type SantaMemory, checkMemory } from './memory.js';
import { checkVariance, maybeNormalized } from './noise.js';

/** Paper defaults (section 4.1): L = 32 retrieved texts, temperature 0.1, balance 0.3. */
export const SANTA_DEFAULTS = { topL: 32, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: 0 };

export interface SantaOptions {
  /** L: how many memory entries closest to the audio embedding are mixed in (default 32). */
  topL?: number;
  /** Softmax temperature of the weights exp(z . m / tau) (default 0.1). */
  tau?: number;
  /** Share of the retrieved text in the output: (1 - lambda) z + lambda sum w m (default 0.3). */
  lambda?: number;
  /** L2-normalise the audio embedding first (default true). The official code uses it raw: false. */
  normalizeAudio?: boolean;
  /**
   * When the cluster has fewer than L members, fill up to L with copies of its first member (lowest
   * memory index), as the official code does (default false: use the members there are).
   */
  padClusters?: boolean;
  /**
   * Variance of fresh noise added to each retrieved entry (then renormalised) at every query, as the
   * official code does; retrieval itself uses the stored memory. Default 0 (off). Needs `rng`.
   */
  queryNoise?: number;
  /** Source of the query noise. */
  rng?: Rng;
}

/** The modal-transfer methods of the paper's ablation (Table 4). */
export type TransferMethod = 'santa' | 'noise-only' | 'memory-only' | 'no-kmeans' | 'no-audio';
export const TRANSFER_METHODS: readonly TransferMethod[] = ['santa', 'noise-only', 'memory-only', 'no-kmeans', 'no-audio'];

/**
 * Santa (paper equation 7), for a batch of audio embeddings: for each z, the nearest centroid by
 * squared Euclidean distance (among non-empty clusters), the L members of that cluster closest to z,
 * weights softmax(z . m_i / tau), output normalise((1 - lambda) z + lambda sum_i w_i m_i).
 */
export function santa(audio: Embeddings, memory: SantaMemory, options: SantaOptions = {}): Embeddings {
  return transfer('santa', audio, memory, options);
}

/**
 * Applies one modal-transfer method to a batch of audio embeddings. Every method returns unit-norm rows.
 * - `santa`: as `santa()`.
 * - `noise-only`: z itself (the model was trained with noise; nothing is done at inference).
 * - `memory-only`: DRCap-style, softmax(z . m / tau) over the whole memory; z is replaced by the mix.
 * - `no-kmeans`: Santa with the top L taken over the whole memory instead of the closest cluster.
 * - `no-audio`: Santa with lambda = 1.
 */
export function transfer(method: TransferMethod, audio: Embeddings, memory: SantaMemory, options: SantaOptions = {}): Embeddings {
  if (!TRANSFER_METHODS.includes(method)) throw new Error(`transfer: unknown method "${method}" (expected one of ${TRANSFER_METHODS.join(', ')})`);
  const o = resolveOptions(options);
  checkMemory(memory, 'santa memory', { values: false });
  validateEmbeddings(audio, { name: `${method}: audio embeddings`, dim: memory.memory.dim });
  const z = maybeNormalized(audio, o.normalizeAudio);
  if (method === 'noise-only') return l2NormalizeInPlace(z);
  if (method === 'memory-only') return mixWholeMemory(z, memory, { ...o, topL: memory.memory.rows, lambda: 1, padClusters: false });
  if (method === 'no-kmeans') return mixWholeMemory(z, memory, o);
  return mixClosestCluster(z, memory, method === 'no-audio' ? { ...o, lambda: 1 } : o);
}

type Resolved = Required<Omit<SantaOptions, 'rng'>> & { rng?: Rng };

function resolveOptions(options: SantaOptions): Resolved {
  const o = { ...SANTA_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Resolved;
  if (!Number.isInteger(o.topL) || o.topL < 1) throw new Error(`santa: topL must be a positive integer, got ${o.topL}`);
  if (typeof o.tau !== 'number' || !(o.tau > 0) || !Number.isFinite(o.tau)) throw new Error(`santa: tau must be a finite number > 0, got ${o.tau}`);
  if (typeof o.lambda !== 'number' || !(o.lambda >= 0 && o.lambda <= 1)) throw new Error(`santa: lambda must be in [0, 1], got ${o.lambda}`);
  checkVariance(o.queryNoise, 'santa: queryNoise');
  if (o.queryNoise > 0 && !o.rng) throw new Error('santa: queryNoise > 0 needs an rng (pass { rng: new Rng(seed) })');
  return o;
}

/** Santa proper: retrieval inside the closest non-empty cluster. */
function mixClosestCluster(z: Embeddings, m: SantaMemory, o: Resolved): Embeddings {
  const { rows, dim } = z;
  const k = m.centroids.rows;
  const clusters = m.clusters.length === k ? m.clusters : groupByCluster(m.assignments, k);
  const centroidNorms = squaredRowNorms(m.centroids.data, k, dim);
  const products = matmulTransposed(z.data, rows, m.centroids.data, k, dim);
  const memoryNorms = cachedNorms(m.memory);
  const out = createEmbeddings(rows, dim);
  for (let q = 0; q < rows; q++) {
    // argmin_c ||z - c||^2 = argmin_c ||c||^2 - 2 z.c; empty clusters have nobody to retrieve.
    let closest = -1;
    let best = Infinity;
    for (let c = 0; c < k; c++) {
      if (clusters[c].length === 0) continue;
      const distance = centroidNorms[c] - 2 * products[q * k + c];
      if (distance < best) {
        best = distance;
        closest = c;
      }
    }
    const members = clusters[closest];
    const dots = new Float64Array(members.length);
    dotsWithRows(z.data, q * dim, m.memory.data, members, dim, dots);
    mixOne(z, q, m.memory, members, dots, memoryNorms, o, out);
  }
  return l2NormalizeInPlace(out);
}

/** no-kmeans and memory-only: retrieval over the whole memory, one matrix product for the batch. */
function mixWholeMemory(z: Embeddings, m: SantaMemory, o: Resolved): Embeddings {
  const { rows, dim } = z;
  const size = m.memory.rows;
  const all = Int32Array.from({ length: size }, (_, i) => i);
  const memoryNorms = cachedNorms(m.memory);
  const out = createEmbeddings(rows, dim);
  // Chunks of queries bound the size of the (queries x M) product.
  const chunk = Math.max(1, Math.floor(4_000_000 / size));
  for (let q0 = 0; q0 < rows; q0 += chunk) {
    const q1 = Math.min(rows, q0 + chunk);
    const products = matmulTransposed(z.data.subarray(q0 * dim, q1 * dim), q1 - q0, m.memory.data, size, dim);
    for (let q = q0; q < q1; q++) mixOne(z, q, m.memory, all, products.subarray((q - q0) * size, (q - q0 + 1) * size), memoryNorms, o, out);
  }
  return l2NormalizeInPlace(out);
}

/**
 * One query: pick the top L candidates by squared distance ||m||^2 - 2 z.m (ties: lower memory
 * index), optionally pad / add query noise, softmax the dot products / tau, write the unnormalised mix.
 */
function mixOne(
  z: Embeddings,
  q: number,
  memory: Embeddings,
  candidates: Int32Array,
  dots: Float64Array,
  memoryNorms: Float64Array,
  o: Resolved,
  out: Embeddings,
): void {
  const { dim } = z;
  const chosen = topByDistance(candidates, dots, memoryNorms, o.topL);
  // Entries to mix: [row index, dot with z]; padding repeats the cluster's first member.
  const rowsToMix: number[] = chosen.map((p) => candidates[p]);
  const dotsToMix: number[] = chosen.map((p) => dots[p]);
  if (o.padClusters && rowsToMix.length < o.topL) {
    for (let r = rowsToMix.length; r < o.topL; r++) {
      rowsToMix.push(candidates[0]);
      dotsToMix.push(dots[0]);
    }
  }
  const zo = q * dim;
  const n = rowsToMix.length;
  let vectors: Float32Array | null = null;
  if (o.queryNoise > 0) {
    // Fresh noise on every retrieved entry, renormalised; the weights then use the noisy entries.
    vectors = new Float32Array(n * dim);
    const std = Math.sqrt(o.queryNoise);
    for (let i = 0; i < n; i++) {
      const src = rowsToMix[i] * dim;
      let norm = 0;
      for (let j = 0; j < dim; j++) {
        const v = memory.data[src + j] + o.rng!.normal(0, std);
        vectors[i * dim + j] = v;
        norm += v * v;
      }
      const scale = 1 / Math.sqrt(norm);
      let s = 0;
      for (let j = 0; j < dim; j++) {
        vectors[i * dim + j] *= scale;
        s += z.data[zo + j] * vectors[i * dim + j];
      }
      dotsToMix[i] = s;
    }
  }
  let maxLogit = -Infinity;
  for (let i = 0; i < n; i++) maxLogit = Math.max(maxLogit, dotsToMix[i] / o.tau);
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    weights[i] = Math.exp(dotsToMix[i] / o.tau - maxLogit);
    total += weights[i];
  }
  const mix = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const w = weights[i] / total;
    const src = vectors ? vectors : memory.data;
    const base = vectors ? i * dim : rowsToMix[i] * dim;
    for (let j = 0; j < dim; j++) mix[j] += w * src[base + j];
  }
  for (let j = 0; j < dim; j++) out.data[zo + j] = (1 - o.lambda) * z.data[zo + j] + o.lambda * mix[j];
}

/** Positions (into candidates) of the L smallest distances, ascending by (distance, memory index). */
function topByDistance(candidates: Int32Array, dots: ArrayLike<number>, norms: Float64Array, topL: number): number[] {
  const n = candidates.length;
  const distance = (p: number) => norms[candidates[p]] - 2 * dots[p];
  const before = (a: number, da: number, b: number, db: number) => da < db || (da === db && candidates[a] < candidates[b]);
  if (n <= topL) return Array.from({ length: n }, (_, p) => p);
  // Keep a sorted buffer of the best L; most candidates are rejected by one comparison with the worst.
  const best: number[] = [];
  const bestDistance: number[] = [];
  for (let p = 0; p < n; p++) {
    const d = distance(p);
    if (best.length === topL && !before(p, d, best[topL - 1], bestDistance[topL - 1])) continue;
    let at = best.length === topL ? topL - 1 : best.length;
    while (at > 0 && before(p, d, best[at - 1], bestDistance[at - 1])) {
      best[at] = best[at - 1];
      bestDistance[at] = bestDistance[at - 1];
      at--;
    }
    best[at] = p;
    bestDistance[at] = d;
  }
  return best;
}

/** dots[r] = z[zo ..] . rows[indices[r]], four rows at a time; each sum runs k ascending like matmulTransposed. */
function dotsWithRows(z: Float32Array, zo: number, data: Float32Array, indices: Int32Array, dim: number, dots: Float64Array): void {
  let r = 0;
  for (; r + 4 <= indices.length; r += 4) {
    const b0 = indices[r] * dim, b1 = indices[r + 1] * dim, b2 = indices[r + 2] * dim, b3 = indices[r + 3] * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let k = 0; k < dim; k++) {
      const x = z[zo + k];
      s0 += x * data[b0 + k]; s1 += x * data[b1 + k]; s2 += x * data[b2 + k]; s3 += x * data[b3 + k];
    }
    dots[r] = s0; dots[r + 1] = s1; dots[r + 2] = s2; dots[r + 3] = s3;
  }
  for (; r < indices.length; r++) {
    const b = indices[r] * dim;
    let s = 0;
    for (let k = 0; k < dim; k++) s += z[zo + k] * data[b + k];
    dots[r] = s;
  }
}

function groupByCluster(assignments: Int32Array, k: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: k }, () => []);
  assignments.forEach((c, i) => lists[c].push(i));
  return lists.map((l) => Int32Array.from(l));
}

// Squared norms of memory rows, computed once per memory (a memory is not modified after it is built).
const normCache = new WeakMap<Float32Array, Float64Array>();
function cachedNorms(e: Embeddings): Float64Array {
  let norms = normCache.get(e.data);
  if (!norms || norms.length !== e.rows) {
    norms = squaredRowNorms(e.data, e.rows, e.dim);
    normCache.set(e.data, norms);
  }
  return norms;
}
