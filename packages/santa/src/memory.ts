import { type Embeddings, Rng, createEmbeddings, readSafetensors, selectRows, validateEmbeddings, writeSafetensors } from '@mats/core';
import { type KmeansImplementation, kmeans } from './kmeans.js';
import { checkVariance, injectNoise } from './noise.js';

/** Paper defaults: K = 100 clusters, noise variance 0.015, a memory of M = 5172 texts. */
export const MEMORY_DEFAULTS = { k: 100, variance: 0.015, iterations: 100, seed: 0, maxSize: 5172, implementation: 'fast' as KmeansImplementation };

export interface MemoryOptions {
  /** Number of k-means clusters K (default 100). Must not exceed the memory size. */
  k?: number;
  /** Variance of the noise added to each memory entry (default 0.015). */
  variance?: number;
  /** Maximum Lloyd iterations (default 100; stops earlier when the centroids stop moving). */
  iterations?: number;
  /** Seeds the row subset, the noise and the k-means++ start (default 0). */
  seed?: number;
  /** Memory size M: when there are more texts, a seeded random subset of this many is kept (default 5172). */
  maxSize?: number;
  /** K-means implementation: 'fast' (default) or 'ml-kmeans'. */
  implementation?: KmeansImplementation;
  /** Start k-means from these centroids (K x dim) instead of k-means++. */
  initialCentroids?: Embeddings;
}

/** What buildMemory used, stored with the memory so a saved file says how it was made. */
export interface MemoryInfo {
  k: number;
  variance: number;
  iterations: number;
  seed: number;
  maxSize: number;
  implementation: KmeansImplementation;
  /** Rows of the text embeddings given to buildMemory. */
  sourceRows: number;
  /** Lloyd iterations actually run, and whether the centroids had stopped moving. */
  iterationsRun: number;
  converged: boolean;
}

/** The clustered memory Santa retrieves from. */
export interface SantaMemory {
  /** M noisy, unit-norm text embeddings. */
  memory: Embeddings;
  /** K cluster centres (mean of their members). */
  centroids: Embeddings;
  /** Cluster of each memory row (length M). */
  assignments: Int32Array;
  /** Members of each cluster as memory row indices, ascending (derived from assignments). */
  clusters: Int32Array[];
  info: MemoryInfo;
}

/**
 * Builds Santa's memory (paper section 3.4): keep at most `maxSize` text embeddings (a seeded random
 * subset when there are more), add noise to each (normalise, + N(0, variance), normalise), and
 * cluster them with k-means (k-means++ start). The same seed and inputs give the same memory.
 */
export function buildMemory(textEmbeddings: Embeddings, options: MemoryOptions = {}): SantaMemory {
  const o = { ...MEMORY_DEFAULTS, ...definedOnly(options) };
  validateEmbeddings(textEmbeddings, { name: 'buildMemory: text embeddings' });
  checkVariance(o.variance, 'buildMemory');
  if (!Number.isInteger(o.maxSize) || o.maxSize < 1) throw new Error(`buildMemory: maxSize must be a positive integer, got ${o.maxSize}`);
  if (!Number.isInteger(o.k) || o.k < 1) throw new Error(`buildMemory: k must be a positive integer, got ${o.k}`);
  const size = Math.min(o.maxSize, textEmbeddings.rows);
  if (o.k > size) {
    throw new Error(`buildMemory: k = ${o.k} clusters is more than the ${size} memory entries (${textEmbeddings.rows} texts, maxSize ${o.maxSize})`);
  }
  // Independent streams, so changing one step (e.g. the k-means implementation) leaves the others alone.
  const root = new Rng(o.seed);
  const subsetRng = root.fork();
  const noiseRng = root.fork();
  const kmeansSeed = root.nextUint32();
  let texts = textEmbeddings;
  if (textEmbeddings.rows > size) {
    const chosen = subsetRng.permutation(textEmbeddings.rows).slice(0, size).sort((a, b) => a - b);
    texts = selectRows(textEmbeddings, chosen);
  }
  const memory = injectNoise(texts, { variance: o.variance, rng: noiseRng });
  if (o.initialCentroids) validateEmbeddings(o.initialCentroids, { name: 'buildMemory: initialCentroids', rows: o.k, dim: memory.dim });
  const result = kmeans(memory.data, memory.rows, memory.dim, {
    k: o.k,
    iterations: o.iterations,
    seed: kmeansSeed,
    implementation: o.implementation,
    initialCentroids: o.initialCentroids?.data,
  });
  const centroids = createEmbeddings(o.k, memory.dim, Float32Array.from(result.centroids));
  const info: MemoryInfo = {
    k: o.k,
    variance: o.variance,
    iterations: o.iterations,
    seed: o.seed,
    maxSize: o.maxSize,
    implementation: o.implementation,
    sourceRows: textEmbeddings.rows,
    iterationsRun: result.iterations,
    converged: result.converged,
  };
  return { memory, centroids, assignments: result.assignments, clusters: groupClusters(result.assignments, o.k), info };
}

/** Members of each cluster, ascending. */
export function groupClusters(assignments: Int32Array, k: number): Int32Array[] {
  const counts = new Int32Array(k);
  for (const c of assignments) counts[c]++;
  const clusters = Array.from(counts, (n) => new Int32Array(n));
  counts.fill(0);
  for (let i = 0; i < assignments.length; i++) {
    const c = assignments[i];
    clusters[c][counts[c]++] = i;
  }
  return clusters;
}

const FORMAT = 'mats-santa-memory';
const FORMAT_VERSION = '1';

/** Writes the memory to one safetensors file (tensors memory, centroids, assignments; options in the metadata). */
export function saveMemory(path: string, memory: SantaMemory): void {
  checkMemory(memory, path);
  writeSafetensors(
    path,
    {
      memory: { data: memory.memory.data, shape: [memory.memory.rows, memory.memory.dim] },
      centroids: { data: memory.centroids.data, shape: [memory.centroids.rows, memory.centroids.dim] },
      assignments: { data: memory.assignments, shape: [memory.assignments.length] },
    },
    { format: FORMAT, format_version: FORMAT_VERSION, options: JSON.stringify(memory.info) },
  );
}

/** Reads a memory written by saveMemory, checking every shape, index and value. */
export function loadMemory(path: string): SantaMemory {
  const file = readSafetensors(path);
  const fail = (msg: string): never => {
    throw new Error(`${path}: not a valid Santa memory file: ${msg}`);
  };
  if (file.metadata.format !== FORMAT) fail(`metadata "format" is ${JSON.stringify(file.metadata.format)}, expected "${FORMAT}"`);
  if (file.metadata.format_version !== FORMAT_VERSION) {
    fail(`metadata "format_version" is ${JSON.stringify(file.metadata.format_version)}, expected "${FORMAT_VERSION}"`);
  }
  let info: MemoryInfo;
  try {
    info = JSON.parse(file.metadata.options ?? '');
  } catch (err) {
    return fail(`metadata "options" is not JSON: ${(err as Error).message}`);
  }
  if (!info || typeof info !== 'object') fail('metadata "options" is not a JSON object');
  const matrix = (name: string): Embeddings => {
    const t = file.tensors.get(name);
    if (!t) return fail(`missing tensor "${name}"`);
    if (!(t.data instanceof Float32Array)) return fail(`tensor "${name}" has dtype ${t.dtype}, expected F32`);
    if (t.shape.length !== 2) return fail(`tensor "${name}" has shape ${JSON.stringify(t.shape)}, expected [rows, dim]`);
    return createEmbeddings(t.shape[0], t.shape[1], t.data);
  };
  const memory = matrix('memory');
  const centroids = matrix('centroids');
  const a = file.tensors.get('assignments');
  if (!a) return fail('missing tensor "assignments"');
  if (!(a.data instanceof Int32Array)) return fail(`tensor "assignments" has dtype ${a.dtype}, expected I32`);
  const assignments = a.data;
  const loaded: SantaMemory = { memory, centroids, assignments, clusters: [], info };
  checkMemory(loaded, path);
  if (info.k !== centroids.rows) fail(`options.k is ${info.k} but the file has ${centroids.rows} centroids`);
  loaded.clusters = groupClusters(assignments, centroids.rows);
  return loaded;
}

/** Consistency of a memory's parts; `where` names the file or caller in errors. */
export function checkMemory(m: SantaMemory, where = 'memory', check: { values?: boolean } = {}): void {
  if (!m || typeof m !== 'object' || !m.memory || !m.centroids) throw new Error(`${where}: expected a SantaMemory { memory, centroids, assignments, clusters, info }`);
  if (check.values ?? true) {
    validateEmbeddings(m.memory, { name: `${where}: memory` });
    validateEmbeddings(m.centroids, { name: `${where}: centroids`, dim: m.memory.dim });
  } else {
    if (m.memory.rows === 0) throw new Error(`${where}: memory is empty (0 rows)`);
    if (m.centroids.dim !== m.memory.dim) throw new Error(`${where}: centroids have dim ${m.centroids.dim}, memory has dim ${m.memory.dim}`);
  }
  if (m.centroids.rows > m.memory.rows) throw new Error(`${where}: ${m.centroids.rows} centroids for only ${m.memory.rows} memory rows`);
  if (!(m.assignments instanceof Int32Array) || m.assignments.length !== m.memory.rows) {
    throw new Error(`${where}: assignments must be an Int32Array of length ${m.memory.rows} (one per memory row), got length ${m.assignments?.length}`);
  }
  for (let i = 0; i < m.assignments.length && (check.values ?? true); i++) {
    const c = m.assignments[i];
    if (c < 0 || c >= m.centroids.rows) throw new Error(`${where}: assignment of memory row ${i} is ${c}, expected a cluster in [0, ${m.centroids.rows})`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
