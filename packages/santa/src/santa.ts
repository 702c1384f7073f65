import { type Embeddings, Rng, createEmbeddings, l2NormalizeInPlace, validateEmbeddings } from '@mats/core';
import { type PinnedMatrix, matmulPinned, pinRightOperands, squaredRowNorms } from './linalg.js';
import { type SantaMemory, checkMemory } from './memory.js';
import { addGaussian, checkVariance, maybeNormalized } from './noise.js';

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

/**
 * Memory rows of one retrieval group (a cluster, or the whole memory), stored contiguously in memory
 * order, and transposed, so that for a group of queries both the dot products Z M^T and the weighted
 * sums W M are single matrix products.
 */
interface Block {
  /** Memory row index of each member, ascending. */
  members: Int32Array;
  /** Member rows (n x dim). */
  rows: Float32Array;
  /** Transposed (dim x n). */
  columns: Float32Array;
  /** Squared norm of each member. */
  norms: Float64Array;
}

function makeBlock(memory: Embeddings, members: Int32Array): Block {
  const { dim } = memory;
  const n = members.length;
  const rows = new Float32Array(n * dim);
  const columns = new Float32Array(dim * n);
  const norms = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    const src = members[p] * dim;
    rows.set(memory.data.subarray(src, src + dim), p * dim);
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const v = memory.data[src + j];
      columns[j * n + p] = v;
      s += v * v;
    }
    norms[p] = s;
  }
  return { members, rows, columns, norms };
}

/** Blocks per memory, built on first use (a memory is not modified after it is built or loaded). */
interface Blocks {
  assignments: Int32Array;
  clusters: (Block | null)[] | null;
  whole: Block | null;
  /** Keys for pinning the cluster blocks or the whole-memory block in the kernel's memory. */
  clusterPins: object;
  wholePins: object;
}
const blockCache = new WeakMap<Float32Array, Blocks>();

function blocksOf(m: SantaMemory): Blocks {
  let b = blockCache.get(m.memory.data);
  if (!b || b.assignments !== m.assignments || (b.clusters && b.clusters.length !== m.centroids.rows)) {
    b = { assignments: m.assignments, clusters: null, whole: null, clusterPins: {}, wholePins: {} };
    blockCache.set(m.memory.data, b);
  }
  return b;
}

/** A block with its rows and columns pinned for products. */
interface PinnedBlock {
  block: Block;
  rows: PinnedMatrix;
  columns: PinnedMatrix;
}

/** Santa proper: retrieval inside the closest non-empty cluster. */
function mixClosestCluster(z: Embeddings, m: SantaMemory, o: Resolved): Embeddings {
  const { rows, dim } = z;
  const k = m.centroids.rows;
  const clusters = m.clusters.length === k ? m.clusters : groupByCluster(m.assignments, k);
  const cache = blocksOf(m);
  const blocks = (cache.clusters ??= clusters.map((members) => (members.length > 0 ? makeBlock(m.memory, members) : null)));
  // Centroids, then rows and columns of every non-empty cluster, copied once into the kernel's memory.
  const matrices = [{ data: m.centroids.data, rows: k, dim }];
  for (const b of blocks) {
    if (b) matrices.push({ data: b.rows, rows: b.members.length, dim }, { data: b.columns, rows: dim, dim: b.members.length });
  }
  const handles = pinRightOperands(cache.clusterPins, matrices);
  const pinned: (PinnedBlock | null)[] = [];
  let h = 1;
  for (const b of blocks) pinned.push(b ? { block: b, rows: handles[h++], columns: handles[h++] } : null);

  const centroidNorms = cachedNorms(m.centroids);
  const products = matmulPinned(z.data, rows, handles[0]);
  // argmin_c ||z - c||^2 = argmin_c ||c||^2 - 2 z.c; empty clusters have nobody to retrieve.
  const queriesOf: number[][] = Array.from({ length: k }, () => []);
  for (let q = 0; q < rows; q++) {
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
    queriesOf[closest].push(q);
  }
  const out = createEmbeddings(rows, dim);
  for (let c = 0; c < k; c++) {
    if (queriesOf[c].length > 0) mixGroup(z, queriesOf[c], m.memory, pinned[c]!, o, out);
  }
  return l2NormalizeInPlace(out);
}

/** no-kmeans and memory-only: retrieval over the whole memory, in chunks of queries. */
function mixWholeMemory(z: Embeddings, m: SantaMemory, o: Resolved): Embeddings {
  const cache = blocksOf(m);
  const block = (cache.whole ??= makeBlock(m.memory, Int32Array.from({ length: m.memory.rows }, (_, i) => i)));
  const [rowsHandle, columnsHandle] = pinRightOperands(cache.wholePins, [
    { data: block.rows, rows: block.members.length, dim: z.dim },
    { data: block.columns, rows: z.dim, dim: block.members.length },
  ]);
  const out = createEmbeddings(z.rows, z.dim);
  const chunk = 256;
  for (let q0 = 0; q0 < z.rows; q0 += chunk) {
    const queries = Array.from({ length: Math.min(chunk, z.rows - q0) }, (_, i) => q0 + i);
    mixGroup(z, queries, m.memory, { block, rows: rowsHandle, columns: columnsHandle }, o, out);
  }
  return l2NormalizeInPlace(out);
}

/**
 * Queries that retrieve from the same block: dots = Z M^T (one product), per query the top L, the
 * softmax weights written into a (queries x members) matrix W, then the mix W M (a second product),
 * and out = (1 - lambda) z + lambda mix (unnormalised).
 */
function mixGroup(z: Embeddings, queries: number[], memory: Embeddings, pinned: PinnedBlock, o: Resolved, out: Embeddings): void {
  const { dim } = z;
  const { block } = pinned;
  const n = block.members.length;
  const g = queries.length;
  const zg = new Float32Array(g * dim);
  queries.forEach((q, i) => zg.set(z.data.subarray(q * dim, (q + 1) * dim), i * dim));
  const dots = matmulPinned(zg, g, pinned.rows);
  if (o.queryNoise > 0) {
    // Fresh noise per query and entry: the entries differ per query, so no shared product for the mix.
    queries.forEach((q, i) => mixOne(z, q, memory, block.members, dots.subarray(i * n, (i + 1) * n), block.norms, o, out));
    return;
  }
  // The mix W M as a dense product pays g * n * dim; written out sparse it is g * L * dim. Dense wins
  // (SIMD) unless the block is much larger than L (no-kmeans over the whole memory, a huge cluster).
  const dense = n <= 4 * o.topL;
  const weights = new Float32Array(g * n);
  for (let i = 0; i < g; i++) {
    const d = dots.subarray(i * n, (i + 1) * n);
    const chosen = topByDistance(block.members, d, block.norms, o.topL);
    // Padding repeats the block's first member (lowest memory index) up to L entries.
    const pad = o.padClusters && chosen.length < o.topL ? o.topL - chosen.length : 0;
    let maxLogit = -Infinity;
    for (const p of chosen) maxLogit = Math.max(maxLogit, d[p] / o.tau);
    if (pad > 0) maxLogit = Math.max(maxLogit, d[0] / o.tau);
    let total = 0;
    const e = chosen.map((p) => Math.exp(d[p] / o.tau - maxLogit));
    for (const v of e) total += v;
    const padWeight = pad > 0 ? Math.exp(d[0] / o.tau - maxLogit) : 0;
    total += pad * padWeight;
    const w = weights.subarray(i * n, (i + 1) * n);
    chosen.forEach((p, r) => (w[p] += e[r] / total));
    if (pad > 0) w[0] += (pad * padWeight) / total;
    if (!dense) {
      const zo = queries[i] * dim;
      const mix = new Float64Array(dim);
      for (const p of pad > 0 ? [...chosen, 0] : chosen) {
        const wp = w[p];
        const src = p * dim;
        for (let j = 0; j < dim; j++) mix[j] += wp * block.rows[src + j];
      }
      for (let j = 0; j < dim; j++) out.data[zo + j] = (1 - o.lambda) * z.data[zo + j] + o.lambda * mix[j];
    }
  }
  if (!dense) return;
  const mix = matmulPinned(weights, g, pinned.columns);
  const keep = 1 - o.lambda;
  queries.forEach((q, i) => {
    const zo = q * dim;
    for (let j = 0; j < dim; j++) out.data[zo + j] = keep * z.data[zo + j] + o.lambda * mix[i * dim + j];
  });
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
  dots: Float32Array | Float64Array,
  candidateNorms: Float64Array,
  o: Resolved,
  out: Embeddings,
): void {
  const { dim } = z;
  const chosen = topByDistance(candidates, dots, candidateNorms, o.topL);
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
        vectors[i * dim + j] = memory.data[src + j];
      }
      addGaussian(vectors.subarray(i * dim, (i + 1) * dim), std, o.rng!);
      for (let j = 0; j < dim; j++) norm += vectors[i * dim + j] ** 2;
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

/** Positions (into candidates) of the L smallest distances norms[p] - 2 dots[p], ascending by (distance, memory index). */
function topByDistance(candidates: Int32Array, dots: ArrayLike<number>, norms: Float64Array, topL: number): number[] {
  const n = candidates.length;
  const distance = (p: number) => norms[p] - 2 * dots[p];
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

function groupByCluster(assignments: Int32Array, k: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: k }, () => []);
  assignments.forEach((c, i) => lists[c].push(i));
  return lists.map((l) => Int32Array.from(l));
}


// Squared norms of the centroids, computed once per memory (a memory is not modified once built).
const normCache = new WeakMap<Float32Array, Float64Array>();
function cachedNorms(e: Embeddings): Float64Array {
  let norms = normCache.get(e.data);
  if (!norms || norms.length !== e.rows) {
    norms = squaredRowNorms(e.data, e.rows, e.dim);
    normCache.set(e.data, norms);
  }
  return norms;
}
