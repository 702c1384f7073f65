/**
 * A word-level tokenizer for the synthetic world's closed vocabulary: lower-case words (letters,
 * digits, inner apostrophes) and single punctuation marks. Id 0 pads, id 1 stands for any word
 * outside the vocabulary.
 */
export const PAD_TOKEN = '<pad>';
export const UNK_TOKEN = '<unk>';
export const PAD_ID = 0;
export const UNK_ID = 1;

const WORD = /[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]/g;

export function splitWords(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

export class WordTokenizer {
  readonly vocab: readonly string[];
  private readonly index: Map<string, number>;

  constructor(vocab: readonly string[]) {
    if (vocab[PAD_ID] !== PAD_TOKEN || vocab[UNK_ID] !== UNK_TOKEN) {
      throw new Error(`WordTokenizer: vocab must start with "${PAD_TOKEN}", "${UNK_TOKEN}", got ${JSON.stringify(vocab.slice(0, 2))}`);
    }
    this.vocab = vocab;
    this.index = new Map();
    vocab.forEach((w, i) => {
      if (this.index.has(w)) throw new Error(`WordTokenizer: word "${w}" appears twice in the vocab (ids ${this.index.get(w)} and ${i})`);
      this.index.set(w, i);
    });
  }

  /** A vocabulary of every word in `texts`, sorted, after the two special tokens. */
  static fromTexts(texts: Iterable<string>): WordTokenizer {
    const words = new Set<string>();
    for (const t of texts) for (const w of splitWords(t)) words.add(w);
    return new WordTokenizer([PAD_TOKEN, UNK_TOKEN, ...[...words].sort()]);
  }

  get size(): number {
    return this.vocab.length;
  }

  /** Ids of the words of `text` (unknown words -> UNK_ID), cut to `maxLength`. */
  encode(text: string, maxLength = Infinity): number[] {
    const ids = splitWords(text).map((w) => this.index.get(w) ?? UNK_ID);
    return ids.slice(0, maxLength);
  }

  /** Row-major [texts, maxLength] ids padded with PAD_ID, and the number of real tokens per row. */
  encodeBatch(texts: string[], maxLength: number): { ids: Int32Array; lengths: Int32Array } {
    const ids = new Int32Array(texts.length * maxLength);
    const lengths = new Int32Array(texts.length);
    texts.forEach((t, r) => {
      const row = this.encode(t, maxLength);
      if (row.length === 0) throw new Error(`WordTokenizer: text ${r} has no words: ${JSON.stringify(t)}`);
      ids.set(row, r * maxLength);
      lengths[r] = row.length;
    });
    return { ids, lengths };
  }
}
