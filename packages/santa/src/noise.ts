import { type Embeddings, Rng, createEmbeddings, l2Normalize, l2NormalizeInPlace, validateEmbeddings } from '@mats/core';

export interface NoiseOptions {
  /** Variance of the Gaussian noise per dimension (the paper's sigma = 0.015 is a variance). 0 = none. */
  variance: number;
  /** Source of the noise; required when variance > 0. */
  rng?: Rng;
  /** L2-normalise again after adding the noise (default true, as CapDec and MATS do). */
  renormalize?: boolean;
}

/** Throws unless `variance` is a finite number >= 0. */
export function checkVariance(variance: number, where: string): void {
  if (typeof variance !== 'number' || !Number.isFinite(variance) || variance < 0) {
    throw new Error(`${where}: variance must be a finite number >= 0, got ${variance}`);
  }
}

/**
 * Noise injection of the paper (section 3.2): L2-normalise each row, add N(0, variance) to every
 * dimension, L2-normalise again. Returns a new Embeddings; with variance 0 it is plain normalisation.
 */
export function injectNoise(embeddings: Embeddings, options: NoiseOptions): Embeddings {
  validateEmbeddings(embeddings, { name: 'injectNoise: embeddings' });
  checkVariance(options.variance, 'injectNoise');
  const out = l2Normalize(embeddings);
  if (options.variance > 0) {
    if (!options.rng) throw new Error('injectNoise: an rng is required when variance > 0 (pass { rng: new Rng(seed) })');
    addGaussian(out.data, Math.sqrt(options.variance), options.rng);
    if (options.renormalize ?? true) l2NormalizeInPlace(out);
  }
  return out;
}

/**
 * Adds N(0, std^2) to every value in place. Marsaglia's polar method on the Rng's uniforms: one log
 * and one square root per pair of deviates and no trigonometry, several times faster than drawing
 * them one by one, which matters for a 5172 x 1024 memory.
 */
export function addGaussian(data: Float32Array, std: number, rng: Rng): void {
  const n = data.length;
  for (let i = 0; i < n; i += 2) {
    let u = 0;
    let v = 0;
    let s = 0;
    do {
      u = 2 * rng.uniform() - 1;
      v = 2 * rng.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = std * Math.sqrt((-2 * Math.log(s)) / s);
    data[i] += u * f;
    if (i + 1 < n) data[i + 1] += v * f;
  }
}

/** Statistics of the gap between paired audio and text embeddings (both L2-normalised first). */
export interface ModalityGap {
  /** Number of (audio, text) pairs. */
  pairs: number;
  /** Mean cosine similarity of each audio row with its paired text row. */
  meanPairedCosine: number;
  /** Mean Euclidean distance between each audio row and its paired text row. */
  meanPairedDistance: number;
  /** Liang et al.'s gap: the distance between the audio centroid and the text centroid. */
  centroidDistance: number;
  /** Mean over pairs of the infinity norm of (audio - text): our reading of the paper's noise estimate. */
  meanInfNorm: number;
  /** The noise variance that estimate implies: meanInfNorm^2. */
  noiseVariance: number;
}

/** Modality-gap statistics of paired embeddings (row i of audio goes with row i of text). */
export function modalityGap(audio: Embeddings, text: Embeddings): ModalityGap {
  validateEmbeddings(audio, { name: 'modalityGap: audio' });
  validateEmbeddings(text, { name: 'modalityGap: text', dim: audio.dim, rows: audio.rows });
  const a = l2Normalize(audio);
  const t = l2Normalize(text);
  const { rows, dim } = a;
  const audioMean = new Float64Array(dim);
  const textMean = new Float64Array(dim);
  let cosine = 0;
  let distance = 0;
  let infNorm = 0;
  for (let i = 0; i < rows; i++) {
    let dotSum = 0;
    let squared = 0;
    let maxAbs = 0;
    for (let j = 0; j < dim; j++) {
      const x = a.data[i * dim + j];
      const y = t.data[i * dim + j];
      dotSum += x * y;
      squared += (x - y) * (x - y);
      const abs = Math.abs(x - y);
      if (abs > maxAbs) maxAbs = abs;
      audioMean[j] += x;
      textMean[j] += y;
    }
    cosine += dotSum;
    distance += Math.sqrt(squared);
    infNorm += maxAbs;
  }
  let gap = 0;
  for (let j = 0; j < dim; j++) gap += ((audioMean[j] - textMean[j]) / rows) ** 2;
  const meanInfNorm = infNorm / rows;
  return {
    pairs: rows,
    meanPairedCosine: cosine / rows,
    meanPairedDistance: distance / rows,
    centroidDistance: Math.sqrt(gap),
    meanInfNorm,
    noiseVariance: meanInfNorm * meanInfNorm,
  };
}

/**
 * The noise variance for training, from paired audio/text embeddings (the paper uses 30 random
 * pairs). The paper's exact formula is not public; our documented reading: std = mean over pairs of
 * ||normalise(audio) - normalise(text)||_inf, variance = std^2.
 */
export function estimateNoiseVariance(audio: Embeddings, text: Embeddings): number {
  return modalityGap(audio, text).noiseVariance;
}

/** A copy of `e`, L2-normalised when `normalize` is set. */
export function maybeNormalized(e: Embeddings, normalize: boolean): Embeddings {
  return normalize ? l2Normalize(e) : createEmbeddings(e.rows, e.dim, new Float32Array(e.data));
}
