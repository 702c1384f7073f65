/** Whitespace split as Python's `str.split()` (no empty tokens). */
export function splitWhitespace(s: string): string[] {
  const trimmed = s.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

/** Gives each distinct word a small integer id (per corpus). */
export class WordCoder {
  private readonly ids = new Map<string, number>();

  encode(words: string[]): Int32Array {
    const out = new Int32Array(words.length);
    words.forEach((w, i) => {
      let id = this.ids.get(w);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(w, id);
      }
      out[i] = id;
    });
    return out;
  }
}

/** An n-gram key: a number when every word id is below BASE (1 then 4 ids fit below 2^53), else a string. */
export type NgramKey = number | string;
const BASE = 8192;

/**
 * Counts the n-grams of each order 1..n of an encoded sentence: result[k - 1] maps a k-gram key to
 * its count, keys inserted in order of position (as pycocoevalcap's `precook`). Equal n-grams get
 * equal keys across sentences coded by the same WordCoder.
 */
export function countNgrams(ids: Int32Array, n: number): Map<NgramKey, number>[] {
  const out: Map<NgramKey, number>[] = [];
  for (let k = 1; k <= n; k++) {
    const counts = new Map<NgramKey, number>();
    for (let i = 0; i + k <= ids.length; i++) {
      let key: NgramKey = 1; // a leading 1 keeps keys of different orders apart
      let small = true;
      for (let j = i; j < i + k; j++) {
        if (ids[j] >= BASE) small = false;
        key = key * BASE + ids[j];
      }
      if (!small) key = Array.prototype.join.call(ids.subarray(i, i + k), ',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}

/** The distinct n-grams of one sentence for one order, in first-occurrence order, with counts. */
export interface OrderGrams {
  ids: Int32Array;
  counts: Int32Array;
}

/**
 * Gives every distinct n-gram (all orders) of a corpus a dense integer id, so later passes use
 * typed arrays instead of string-keyed maps.
 */
export class NgramIndex {
  private readonly ids = new Map<NgramKey, number>();
  private readonly coder = new WordCoder();

  get size(): number {
    return this.ids.size;
  }

  /** Orders 1..n of a whitespace-split sentence; grams in order of position (pycocoevalcap's order). */
  sentence(text: string, n: number): OrderGrams[] {
    const byOrder = countNgrams(this.coder.encode(splitWhitespace(text)), n);
    return byOrder.map((counts) => {
      const ids = new Int32Array(counts.size);
      const cs = new Int32Array(counts.size);
      let j = 0;
      for (const [gram, c] of counts) {
        let id = this.ids.get(gram);
        if (id === undefined) {
          id = this.ids.size;
          this.ids.set(gram, id);
        }
        ids[j] = id;
        cs[j++] = c;
      }
      return { ids, counts: cs };
    });
  }
}
