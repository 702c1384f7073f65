import type { Embeddings } from '@mats/core';

/**
 * Top-1 accuracy as a fraction in [0, 1]. A target may be a set (array): the prediction is correct
 * when it equals one of its members.
 */
export function accuracy<T>(predictions: readonly T[], targets: readonly (T | readonly T[])[]): number {
  if (predictions.length !== targets.length) {
    throw new Error(`accuracy: ${predictions.length} predictions but ${targets.length} targets`);
  }
  if (predictions.length === 0) throw new Error('accuracy: no items');
  let correct = 0;
  predictions.forEach((p, i) => {
    const t = targets[i];
    if (Array.isArray(t) ? (t as readonly T[]).includes(p) : t === p) correct++;
  });
  return correct / predictions.length;
}

/**
 * Average precision of one class as scikit-learn's `average_precision_score` (binary): the
 * precision-recall curve at every *distinct* score (tied scores form one threshold), then
 * AP = sum_k (R_k - R_{k-1}) P_k. A class without positives has AP 0 (scikit-learn 1.2 returns 0
 * with a warning; it still counts in the macro mean).
 */
export function averagePrecision(scores: ArrayLike<number>, targets: ArrayLike<number>): number {
  const n = scores.length;
  if (targets.length !== n) throw new Error(`averagePrecision: ${n} scores but ${targets.length} targets`);
  if (n === 0) throw new Error('averagePrecision: no items');
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i])) throw new Error(`averagePrecision: score ${i} is ${scores[i]}, expected a finite number`);
    if (targets[i] !== 0 && targets[i] !== 1) throw new Error(`averagePrecision: target ${i} is ${targets[i]}, expected 0 or 1`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += targets[i];
  if (positives === 0) return 0;
  // (recall, precision) at each distinct threshold, from the highest score down
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (targets[i] === 1) tp++;
    else fp++;
    const last = k === n - 1 || scores[order[k + 1]] !== scores[i];
    if (last) {
      recall.push(tp / positives);
      precision.push(tp / (tp + fp));
    }
  }
  // scikit-learn sums from the lowest threshold up: -sum(diff(recall_reversed) * precision_reversed[:-1])
  let ap = 0;
  for (let k = recall.length - 1; k >= 0; k--) {
    const previousRecall = k === 0 ? 0 : recall[k - 1];
    ap += (recall[k] - previousRecall) * precision[k];
  }
  return ap;
}

/** Per-class average precision; `scores[i][c]` and `targets[i][c]` are item i, class c. */
export function averagePrecisionPerClass(scores: readonly ArrayLike<number>[], targets: readonly ArrayLike<number>[]): number[] {
  if (scores.length !== targets.length) throw new Error(`mAP: ${scores.length} score rows but ${targets.length} target rows`);
  if (scores.length === 0) throw new Error('mAP: no items');
  const classes = scores[0].length;
  scores.forEach((row, i) => {
    if (row.length !== classes) throw new Error(`mAP: score row ${i} has ${row.length} classes, expected ${classes}`);
    if (targets[i].length !== classes) throw new Error(`mAP: target row ${i} has ${targets[i].length} classes, expected ${classes}`);
  });
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    out.push(averagePrecision(scores.map((r) => r[c]), targets.map((r) => r[c])));
  }
  return out;
}

/** Multi-label mAP: the mean over classes of average precision (scikit-learn `average="macro"`). */
export function meanAveragePrecision(scores: readonly ArrayLike<number>[], targets: readonly ArrayLike<number>[]): number {
  const perClass = averagePrecisionPerClass(scores, targets);
  return perClass.reduce((a, b) => a + b, 0) / perClass.length;
}

/** Anything that embeds text: the CLAP text encoder, or a test double. */
export interface TextEmbedder {
  embedText(texts: string[]): Promise<Embeddings>;
}

export interface MatchOptions {
  /** Prepend `sound of ` to labels and to each (lower-cased) prediction, as LTU's evaluation does. */
  soundOfPrefix?: boolean;
  /**
   * Split each prediction into several labels on this separator (LTU uses `;`, its outputs read
   * `a; b; c`); parts are trimmed at the start and empty parts dropped. Default: no split.
   */
  multiLabelSeparator?: string;
  /** How the parts' similarities combine per label: `max` (LTU's default) or `sum`. Default `max`. */
  combine?: 'max' | 'sum';
  /** Texts per embedText call (default 256). */
  batchSize?: number;
}

export interface MatchResult {
  /** cosine similarity of item i to label c: `scores[i][c]` (use for mAP) */
  scores: number[][];
  /** index of the best label per item (first one on ties) */
  predictedIndex: number[];
  predictedLabel: string[];
}

/**
 * Text matching of free-text predictions to a label set: embed predictions and labels, score each
 * label by cosine similarity, take the best (paper Table S7: ACC by the highest similarity, mAP on
 * the similarities).
 */
export async function matchPredictionsToLabels(
  predictions: readonly string[],
  labels: readonly string[],
  encoder: TextEmbedder,
  options: MatchOptions = {},
): Promise<MatchResult> {
  if (labels.length === 0) throw new Error('matchPredictionsToLabels: the label set is empty');
  predictions.forEach((p, i) => {
    if (typeof p !== 'string') throw new Error(`matchPredictionsToLabels: prediction ${i} must be a string, got ${typeof p}`);
  });
  const prefix = options.soundOfPrefix ? 'sound of ' : '';
  const labelTexts = labels.map((l) => (options.soundOfPrefix ? prefix + l.replace(/_/g, ' ').toLowerCase() : l));
  const parts = predictions.map((p) => {
    const pieces = options.multiLabelSeparator ? p.split(options.multiLabelSeparator).map((x) => x.trimStart()).filter((x) => x !== '') : [p];
    if (pieces.length === 0) pieces.push('');
    return options.soundOfPrefix ? pieces.map((x) => prefix + x.toLowerCase()) : pieces;
  });
  const unique = [...new Set([...labelTexts, ...parts.flat()])];
  const vectors = await embedAll(unique, encoder, options.batchSize ?? 256);
  const labelVectors = labelTexts.map((t) => vectors.get(t)!);
  const combine = options.combine ?? 'max';
  const scores = parts.map((pieces) => {
    const row = new Array<number>(labels.length).fill(combine === 'max' ? -Infinity : 0);
    for (const piece of pieces) {
      const v = vectors.get(piece)!;
      for (let c = 0; c < labels.length; c++) {
        const s = dot(v, labelVectors[c]);
        row[c] = combine === 'max' ? Math.max(row[c], s) : row[c] + s;
      }
    }
    return row;
  });
  const predictedIndex = scores.map(argmax);
  return { scores, predictedIndex, predictedLabel: predictedIndex.map((i) => labels[i]) };
}

async function embedAll(texts: string[], encoder: TextEmbedder, batchSize: number): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  let dim = -1;
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize);
    const e = await encoder.embedText(batch);
    if (!e || e.rows !== batch.length || !(e.data instanceof Float32Array)) {
      throw new Error(`text encoder returned ${e?.rows} rows for ${batch.length} texts (expected Embeddings with one row per text)`);
    }
    if (dim === -1) dim = e.dim;
    if (e.dim !== dim) throw new Error(`text encoder returned dim ${e.dim}, earlier batches had ${dim}`);
    batch.forEach((text, r) => {
      const v = new Float64Array(e.data.subarray(r * e.dim, (r + 1) * e.dim));
      let norm = 0;
      for (const x of v) norm += x * x;
      norm = Math.sqrt(norm);
      if (!Number.isFinite(norm) || norm === 0) {
        throw new Error(`text encoder returned a ${Number.isFinite(norm) ? 'zero' : 'non-finite'} embedding for ${JSON.stringify(text.slice(0, 60))}`);
      }
      for (let j = 0; j < v.length; j++) v[j] /= norm;
      out.set(text, v);
    });
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * A model-free lexical encoder: bag-of-words counts over lower-cased word tokens, hashed into `dim`
 * buckets. Cosine on these vectors is word-overlap similarity. Useful as a baseline and for the CLI
 * when no CLAP model is at hand; it is *not* the paper's CLAP text matching.
 */
export function createBagOfWordsEncoder(dim = 4096): TextEmbedder {
  return {
    async embedText(texts: string[]): Promise<Embeddings> {
      const data = new Float32Array(texts.length * dim);
      texts.forEach((t, r) => {
        const words: string[] = t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
        // an empty text still needs a non-zero vector: use a bucket of its own
        if (words.length === 0) words.push('\u0000empty');
        for (const w of words) data[r * dim + (fnv1a(w) % dim)] += 1;
      });
      return { rows: texts.length, dim, data };
    },
  };
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
