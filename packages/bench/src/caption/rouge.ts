/**
 * ROUGE-L as pycocoevalcap's Rouge: the longest common subsequence between the candidate and each
 * reference (both split on single spaces, as `str.split(" ")` does), the maximum precision and the
 * maximum recall taken separately over the references, F-measure with beta = 1.2, mean over items.
 */
const BETA = 1.2;

function lcsLength(a: string[], b: string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  // one row of the dynamic-programming table at a time
  let prev = new Int32Array(b.length + 1);
  let curr = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      curr[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], curr[j - 1]);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length];
}

export function rougeLItem(candidate: string, references: string[]): number {
  if (references.length === 0) throw new Error('rougeL: an item has no references');
  const tokensC = candidate.split(' ');
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    const tokensR = ref.split(' ');
    const lcs = lcsLength(tokensR, tokensC);
    precMax = Math.max(precMax, lcs / tokensC.length);
    recMax = Math.max(recMax, lcs / tokensR.length);
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + BETA ** 2) * precMax * recMax) / (recMax + BETA ** 2 * precMax);
}

export function computeRougeL(candidates: string[], references: string[][]): { corpus: number; perItem: number[] } {
  const perItem = candidates.map((c, i) => rougeLItem(c, references[i]));
  return { corpus: mean(perItem), perItem };
}

export function mean(values: number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
