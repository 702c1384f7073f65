import { NgramIndex } from './ngrams.js';
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

export function computeCiderD(candidates: string[], references: string[][]): { corpus: number; perItem: number[] } {
  if (candidates.length !== references.length) {
    throw new Error(`computeCiderD: ${candidates.length} candidates but ${references.length} reference sets`);
  }
  const index = new NgramIndex();
  const refGrams = references.map((refs, i) => {
    if (refs.length === 0) throw new Error(`computeCiderD: item ${i} has no references`);
    return refs.map((r) => index.sentence(r, N));
  });
  const testGrams = candidates.map((c) => index.sentence(c, N));
  const size = index.size;

  // document frequency: in how many items' reference sets each n-gram occurs
  const df = new Int32Array(size);
  const lastItem = new Int32Array(size).fill(-1);
  refGrams.forEach((refs, item) => {
    for (const ref of refs) {
      for (const order of ref) {
        for (const id of order.ids) {
          if (lastItem[id] !== item) {
            lastItem[id] = item;
            df[id]++;
          }
        }
      }
    }
  });
  // idf = log(#items) - log(max(1, df)); an n-gram in no reference set has df 0
  const logItems = Math.log(candidates.length);
  const idf = new Float64Array(size);
  for (let id = 0; id < size; id++) idf[id] = logItems - Math.log(Math.max(1, df[id]));

  // position of each candidate n-gram inside its order's list, valid while stamp[id] === item
  const stamp = new Int32Array(size).fill(-1);
  const slot = new Int32Array(size);
  const perItem = testGrams.map((test, item) => {
    const weights = test.map((order) => Float64Array.from(order.ids, (id, j) => order.counts[j] * idf[id]));
    const norms = weights.map((w) => Math.sqrt(w.reduce((s, x) => s + x ** 2, 0)));
    test.forEach((order) => order.ids.forEach((id, j) => {
      stamp[id] = item;
      slot[id] = j;
    }));
    // pycocoevalcap's "length": the sum of term frequencies at order index 1 (the bigrams)
    const length = sum(test[1].counts);

    const score = new Array<number>(N).fill(0);
    for (const ref of refGrams[item]) {
      const delta = length - sum(ref[1].counts);
      const penalty = Math.E ** (-(delta ** 2) / (2 * SIGMA ** 2));
      for (let n = 0; n < N; n++) {
        // the reference's weights at the candidate's n-grams (0 where absent), and its norm
        const aligned = new Float64Array(weights[n].length);
        let squares = 0;
        const { ids, counts } = ref[n];
        for (let k = 0; k < ids.length; k++) {
          const w = counts[k] * idf[ids[k]];
          squares += w ** 2;
          if (stamp[ids[k]] === item) aligned[slot[ids[k]]] = w;
        }
        const refNorm = Math.sqrt(squares);
        // clipped similarity, summed in the candidate's n-gram order as pycocoevalcap does
        let val = 0;
        for (let j = 0; j < aligned.length; j++) val += Math.min(weights[n][j], aligned[j]) * aligned[j];
        if (norms[n] !== 0 && refNorm !== 0) val /= norms[n] * refNorm;
        score[n] += val * penalty;
      }
    }
    return (mean(score) / refGrams[item].length) * 10;
  });
  return { corpus: mean(perItem), perItem };
}

function sum(values: Int32Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
