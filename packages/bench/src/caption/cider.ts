import { countNgrams, ngramOrder, splitWhitespace } from './ngrams.js';
import { mean } from './rouge.js';

/**
 * CIDEr-D as pycocoevalcap's Cider (cider_scorer.py, the vrama91 variant):
 * - n-grams of order 1..4; document frequency = number of items whose reference *set* contains the
 *   n-gram, over the corpus being scored; idf = log(#items) - log(max(1, df));
 * - per n: tf-idf vectors, similarity sum_g min(h_g, r_g) * r_g / (|h| |r|) (the "clipping"),
 *   times a Gaussian penalty exp(-(lh - lr)^2 / (2 sigma^2)) with sigma = 6, where the "length" is
 *   the number of *bigrams* (pycocoevalcap counts term frequencies when the 0-based order index is
 *   1; we keep that);
 * - mean over n, mean over references, times 10; corpus = mean over items.
 * A corpus of one item has idf 0 for everything, so its CIDEr-D is 0 (as in the reference).
 */
const N = 4;
const SIGMA = 6;

interface Vec {
  /** per order: n-gram -> tf-idf weight */
  weights: Map<string, number>[];
  norms: number[];
  length: number;
}

export function computeCiderD(candidates: string[], references: string[][]): { corpus: number; perItem: number[] } {
  if (candidates.length !== references.length) {
    throw new Error(`computeCiderD: ${candidates.length} candidates but ${references.length} reference sets`);
  }
  const refCounts = references.map((refs) => refs.map((r) => countNgrams(splitWhitespace(r), N)));
  const testCounts = candidates.map((c) => countNgrams(splitWhitespace(c), N));

  const documentFrequency = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const counts of refs) for (const gram of counts.keys()) seen.add(gram);
    for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
  }
  const logItems = Math.log(candidates.length);

  const toVec = (counts: Map<string, number>): Vec => {
    const weights = Array.from({ length: N }, () => new Map<string, number>());
    const squares = new Array<number>(N).fill(0);
    let length = 0;
    for (const [gram, tf] of counts) {
      const df = Math.log(Math.max(1, documentFrequency.get(gram) ?? 0));
      const order = ngramOrder(gram) - 1;
      const w = tf * (logItems - df);
      weights[order].set(gram, w);
      squares[order] += w ** 2;
      if (order === 1) length += tf;
    }
    return { weights, norms: squares.map(Math.sqrt), length };
  };

  const similarity = (h: Vec, r: Vec): number[] => {
    const delta = h.length - r.length;
    const penalty = Math.E ** (-(delta ** 2) / (2 * SIGMA ** 2));
    const val = new Array<number>(N).fill(0);
    for (let n = 0; n < N; n++) {
      for (const [gram, wh] of h.weights[n]) {
        const wr = r.weights[n].get(gram) ?? 0;
        val[n] += Math.min(wh, wr) * wr;
      }
      if (h.norms[n] !== 0 && r.norms[n] !== 0) val[n] /= h.norms[n] * r.norms[n];
      val[n] *= penalty;
    }
    return val;
  };

  const perItem = testCounts.map((counts, i) => {
    if (refCounts[i].length === 0) throw new Error(`computeCiderD: item ${i} has no references`);
    const h = toVec(counts);
    const score = new Array<number>(N).fill(0);
    for (const ref of refCounts[i]) {
      const s = similarity(h, toVec(ref));
      for (let n = 0; n < N; n++) score[n] += s[n];
    }
    return (mean(score) / refCounts[i].length) * 10;
  });
  return { corpus: mean(perItem), perItem };
}
