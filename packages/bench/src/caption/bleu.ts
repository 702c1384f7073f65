import { WordCoder, countNgrams, splitWhitespace, type NgramKey } from './ngrams.js';

/**
 * BLEU-1..n as pycocoevalcap's BleuScorer with option "closest": n-gram counts clipped by the
 * maximum count in any single reference, the effective reference length is the closest reference
 * length (ties go to the shorter), brevity penalty exp(1 - r/c) when c < r, and the smoothing
 * constants of the reference: precision = (correct + 1e-15) / (guess + 1e-9).
 * Corpus scores pool the counts of all items; per-item scores use each item alone.
 */
export interface BleuResult {
  /** corpus[k] is BLEU-(k+1). */
  corpus: number[];
  /** perItem[i][k] is BLEU-(k+1) of item i. */
  perItem: number[][];
}

const SMALL = 1e-9;
const TINY = 1e-15;

export function computeBleu(candidates: string[], references: string[][], n = 4): BleuResult {
  if (candidates.length !== references.length) {
    throw new Error(`computeBleu: ${candidates.length} candidates but ${references.length} reference sets`);
  }
  const totalGuess = new Array<number>(n).fill(0);
  const totalCorrect = new Array<number>(n).fill(0);
  let totalTestLen = 0;
  let totalRefLen = 0;
  const perItem: number[][] = [];
  const coder = new WordCoder();

  for (let item = 0; item < candidates.length; item++) {
    const refs = references[item];
    if (refs.length === 0) throw new Error(`computeBleu: item ${item} has no references`);
    const refLens: number[] = [];
    // per order: the largest count of each n-gram in any single reference
    const maxCounts = Array.from({ length: n }, () => new Map<NgramKey, number>());
    for (const ref of refs) {
      const words = splitWhitespace(ref);
      refLens.push(words.length);
      countNgrams(coder.encode(words), n).forEach((counts, k) => {
        for (const [gram, count] of counts) if (count > (maxCounts[k].get(gram) ?? 0)) maxCounts[k].set(gram, count);
      });
    }
    const testWords = splitWhitespace(candidates[item]);
    const testLen = testWords.length;
    const guess = Array.from({ length: n }, (_, k) => Math.max(0, testLen - k));
    const correct = new Array<number>(n).fill(0);
    countNgrams(coder.encode(testWords), n).forEach((counts, k) => {
      for (const [gram, count] of counts) correct[k] += Math.min(maxCounts[k].get(gram) ?? 0, count);
    });
    // closest reference length; Python's min over (|l - c|, l) tuples breaks ties by the shorter l
    let refLen = refLens[0];
    for (const l of refLens) {
      const d = Math.abs(l - testLen);
      const best = Math.abs(refLen - testLen);
      if (d < best || (d === best && l < refLen)) refLen = l;
    }
    totalTestLen += testLen;
    totalRefLen += refLen;
    for (let k = 0; k < n; k++) {
      totalGuess[k] += guess[k];
      totalCorrect[k] += correct[k];
    }
    perItem.push(bleuFromCounts(correct, guess, testLen, refLen));
  }
  return { corpus: bleuFromCounts(totalCorrect, totalGuess, totalTestLen, totalRefLen), perItem };
}

function bleuFromCounts(correct: number[], guess: number[], testLen: number, refLen: number): number[] {
  const scores: number[] = [];
  let product = 1;
  for (let k = 0; k < correct.length; k++) {
    product *= (correct[k] + TINY) / (guess[k] + SMALL);
    scores.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLen + TINY) / (refLen + SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < scores.length; k++) scores[k] *= penalty;
  }
  return scores;
}
