import { type Embeddings, Rng, l2Normalize, validateEmbeddings } from '@mats/core';
import { type ModalityGap, checkVariance, injectNoise, modalityGap } from './noise.js';

/**
 * How far apart a CLAP's audio and text clouds are, measured several ways on paired embeddings:
 * the statistics of `modalityGap`, the accuracy of a linear classifier that tells audio from text
 * on held-out pairs, and how close a noisy text embedding stays to its clean version.
 */

export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), times 1/2: the loss is mean log-loss + l2/2 ||w||^2. Default 1e-3. */
  l2?: number;
  /** Full-batch gradient steps (default 2000). */
  iterations?: number;
}

export interface LogisticModel {
  weights: Float64Array;
  bias: number;
  /** Mean log-loss + the penalty at the returned weights. */
  loss: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * Binary logistic regression on the rows of `x` (labels 0 / 1), fitted by full-batch gradient
 * descent from zero weights: deterministic, no randomness. The step is 1 / L with L the gradient's
 * Lipschitz bound (max ||x||^2 + 1) / 4 + l2, so the loss decreases at every step.
 */
export function fitLogisticRegression(x: Embeddings, labels: ArrayLike<number>, options: LogisticOptions = {}): LogisticModel {
  validateEmbeddings(x, { name: 'fitLogisticRegression: x' });
  const { rows, dim, data } = x;
  if (labels.length !== rows) throw new Error(`fitLogisticRegression: ${rows} rows but ${labels.length} labels`);
  for (let i = 0; i < rows; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new Error(`fitLogisticRegression: label ${i} must be 0 or 1, got ${labels[i]}`);
  }
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 2000;
  if (!(l2 >= 0)) throw new Error(`fitLogisticRegression: l2 must be >= 0, got ${l2}`);
  let maxSq = 0;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[i * dim + j] ** 2;
    if (s > maxSq) maxSq = s;
  }
  const step = 1 / ((maxSq + 1) / 4 + l2);
  const w = new Float64Array(dim);
  let b = 0;
  const grad = new Float64Array(dim);
  const residual = new Float64Array(rows);
  for (let it = 0; it < iterations; it++) {
    let gradB = 0;
    grad.fill(0);
    for (let i = 0; i < rows; i++) {
      let z = b;
      for (let j = 0; j < dim; j++) z += w[j] * data[i * dim + j];
      residual[i] = sigmoid(z) - labels[i];
      gradB += residual[i];
      for (let j = 0; j < dim; j++) grad[j] += residual[i] * data[i * dim + j];
    }
    for (let j = 0; j < dim; j++) w[j] -= step * (grad[j] / rows + l2 * w[j]);
    b -= (step * gradB) / rows;
  }
  return { weights: w, bias: b, loss: logisticLoss(x, labels, w, b, l2) };
}

function logisticLoss(x: Embeddings, labels: ArrayLike<number>, w: Float64Array, b: number, l2: number): number {
  let total = 0;
  for (let i = 0; i < x.rows; i++) {
    const z = b + dotRow(x, i, w);
    // log(1 + e^-z) for label 1, log(1 + e^z) for label 0, computed stably.
    const m = labels[i] === 1 ? -z : z;
    total += m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
  }
  let norm = 0;
  for (const v of w) norm += v * v;
  return total / x.rows + (l2 / 2) * norm;
}

function dotRow(x: Embeddings, i: number, w: Float64Array): number {
  let z = 0;
  for (let j = 0; j < x.dim; j++) z += w[j] * x.data[i * x.dim + j];
  return z;
}

/** The predicted label (1 when the logit is > 0) of every row. */
export function predictLogistic(model: LogisticModel, x: Embeddings): Uint8Array {
  if (x.dim !== model.weights.length) throw new Error(`predictLogistic: rows have ${x.dim} dims, the model ${model.weights.length}`);
  const out = new Uint8Array(x.rows);
  for (let i = 0; i < x.rows; i++) out[i] = model.bias + dotRow(x, i, model.weights) > 0 ? 1 : 0;
  return out;
}

export interface SeparabilityOptions extends LogisticOptions {
  /** Share of the pairs held out for the accuracy (default 0.5). */
  testFraction?: number;
  /** Seed of the pair shuffle that makes the split (default 0). */
  seed?: number | string;
}

export interface LinearSeparability {
  /** Accuracy (0-1) of the audio-vs-text classifier on the held-out pairs' 2 x testPairs embeddings. */
  accuracy: number;
  /** Accuracy on the pairs it was fitted on. */
  trainAccuracy: number;
  trainPairs: number;
  testPairs: number;
  l2: number;
}

/**
 * Linear separability of audio vs text: the pairs are shuffled (seeded) and split, a logistic
 * regression learns "audio (1) or text (0)" from the L2-normalised embeddings of the training
 * pairs, and its accuracy is measured on both embeddings of each held-out pair. Both modalities
 * of a pair are always on the same side of the split. 0.5 means the clouds overlap completely
 * (identical embeddings give exactly 0.5), 1.0 means a hyperplane separates them.
 */
export function linearSeparability(audio: Embeddings, text: Embeddings, options: SeparabilityOptions = {}): LinearSeparability {
  validateEmbeddings(audio, { name: 'linearSeparability: audio' });
  validateEmbeddings(text, { name: 'linearSeparability: text', dim: audio.dim, rows: audio.rows });
  const testFraction = options.testFraction ?? 0.5;
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`linearSeparability: testFraction must be in (0, 1), got ${testFraction}`);
  const n = audio.rows;
  const testPairs = Math.round(n * testFraction);
  const trainPairs = n - testPairs;
  if (testPairs < 1 || trainPairs < 1) throw new Error(`linearSeparability: ${n} pairs cannot be split into training and held-out pairs (need at least 2)`);
  const order = Array.from({ length: n }, (_, i) => i);
  new Rng(options.seed ?? 0).shuffle(order);
  const a = l2Normalize(audio);
  const t = l2Normalize(text);
  const build = (pairs: number[]) => {
    const dim = a.dim;
    const data = new Float32Array(2 * pairs.length * dim);
    const labels = new Uint8Array(2 * pairs.length);
    pairs.forEach((p, k) => {
      data.set(a.data.subarray(p * dim, (p + 1) * dim), 2 * k * dim);
      data.set(t.data.subarray(p * dim, (p + 1) * dim), (2 * k + 1) * dim);
      labels[2 * k] = 1;
    });
    return { x: { rows: 2 * pairs.length, dim, data }, labels };
  };
  const trainSet = build(order.slice(0, trainPairs));
  const testSet = build(order.slice(trainPairs));
  const model = fitLogisticRegression(trainSet.x, trainSet.labels, options);
  const accuracy = (set: { x: Embeddings; labels: Uint8Array }) => {
    const predicted = predictLogistic(model, set.x);
    let correct = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === set.labels[i]) correct++;
    return correct / predicted.length;
  };
  return { accuracy: accuracy(testSet), trainAccuracy: accuracy(trainSet), trainPairs, testPairs, l2: options.l2 ?? 1e-3 };
}

export interface NoisyTextCosine {
  variance: number;
  /** Mean over the rows of cos(injectNoise(t), normalise(t)). */
  measured: number;
  /** 1 / sqrt(1 + dim * variance): what the cosine tends to in high dimension. */
  expected: number;
}

/** How close a noisy text embedding (paper noise injection at `variance`) stays to its clean version. */
export function noisyTextCosine(text: Embeddings, variance: number, rng: Rng): NoisyTextCosine {
  validateEmbeddings(text, { name: 'noisyTextCosine: text' });
  checkVariance(variance, 'noisyTextCosine');
  const clean = l2Normalize(text);
  const noisy = injectNoise(text, { variance, rng });
  let total = 0;
  for (let i = 0; i < text.rows; i++) {
    let d = 0;
    for (let j = 0; j < text.dim; j++) d += clean.data[i * text.dim + j] * noisy.data[i * text.dim + j];
    total += d;
  }
  return { variance, measured: total / text.rows, expected: 1 / Math.sqrt(1 + text.dim * variance) };
}

export interface GapStatisticsOptions {
  /** Noise variances at which the noisy-vs-clean text cosine is reported (e.g. the configured one). */
  variances?: number[];
  /** Seed of the split and of the noise (default 0). */
  seed?: number | string;
  separability?: LogisticOptions & { testFraction?: number };
}

export interface GapStatistics extends ModalityGap {
  dim: number;
  separability: LinearSeparability;
  noisyTextCosine: NoisyTextCosine[];
}

/**
 * Everything this project reports about a CLAP's modality gap on paired (audio, text) embeddings:
 * mean paired cosine, centroid distance, the noise-variance estimate of DESIGN.md (via
 * `modalityGap`), linear separability of audio vs text, and the noisy-vs-clean text cosine.
 */
export function gapStatistics(audio: Embeddings, text: Embeddings, options: GapStatisticsOptions = {}): GapStatistics {
  const seed = options.seed ?? 0;
  const gap = modalityGap(audio, text);
  const separability = linearSeparability(audio, text, { ...options.separability, seed: `${seed}/separability` });
  const noisy = (options.variances ?? []).map((v) => noisyTextCosine(text, v, new Rng(`${seed}/noise/${v}`)));
  return { ...gap, dim: audio.dim, separability, noisyTextCosine: noisy };
}
