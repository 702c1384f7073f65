/** Whitespace split as Python's `str.split()` (no empty tokens). */
export function splitWhitespace(s: string): string[] {
  const trimmed = s.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

/**
 * Counts every n-gram of order 1..n, keyed by its words joined with a space (words come from a
 * whitespace split, so the key is unambiguous). Insertion order follows pycocoevalcap's `precook`.
 */
export function countNgrams(words: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= n; k++) {
    for (let i = 0; i + k <= words.length; i++) {
      const key = words.slice(i, i + k).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** The order of an n-gram key made by countNgrams. */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}
