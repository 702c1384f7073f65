import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasShared, sharedDataPath } from '../testing.js';
import { computeBleu } from './bleu.js';
import { computeCaptionMetrics } from './metrics.js';
import { rougeLItem } from './rouge.js';

const TINY = 1e-15;
const SMALL = 1e-9;
/** BLEU-n from clipped counts, as pycocoevalcap: prod((correct+tiny)/(guess+small))^(1/n) * BP. */
function bleuByHand(correct: number[], guess: number[], testLen: number, refLen: number): number[] {
  const ratio = (testLen + TINY) / (refLen + SMALL);
  const bp = ratio < 1 ? Math.exp(1 - 1 / ratio) : 1;
  let p = 1;
  return correct.map((c, k) => {
    p *= (c + TINY) / (guess[k] + SMALL);
    return p ** (1 / (k + 1)) * bp;
  });
}
const rougeByHand = (prec: number, rec: number) => ((1 + 1.44) * prec * rec) / (rec + 1.44 * prec);

describe('caption metrics against pycocoevalcap (coco-metric-vectors.json)', () => {
  const file = sharedDataPath('coco-metric-vectors.json');
  it.skipIf(!hasShared('coco-metric-vectors.json'))('reproduces corpus and per-item BLEU, ROUGE-L, CIDEr-D to 1e-9 (skipped without ../shared)', () => {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    const predictions: Record<string, string> = {};
    for (const [id, caps] of Object.entries(v.res as Record<string, string[]>)) predictions[id] = caps[0];
    // the vectors were made on pre-tokenised strings, without the PTB step
    const m = computeCaptionMetrics(predictions, v.gts, { tokenize: false });
    const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-9);
    close(m.Bleu_1, v.bleu_corpus[0]);
    close(m.Bleu_2, v.bleu_corpus[1]);
    close(m.Bleu_3, v.bleu_corpus[2]);
    close(m.Bleu_4, v.bleu_corpus[3]);
    close(m.ROUGE_L, v.rouge_l_corpus);
    close(m.CIDEr, v.cider_d_corpus);
    for (const id of Object.keys(predictions)) {
      const item = m.perItem[id];
      [item.Bleu_1, item.Bleu_2, item.Bleu_3, item.Bleu_4].forEach((b, k) => close(b, v.bleu_per_item[id][k]));
      close(item.ROUGE_L, v.rouge_l_per_item[id]);
      close(item.CIDEr, v.cider_d_per_item[id]);
    }
    // the PTB step changes nothing on these already clean, lower-case captions
    const tokenized = computeCaptionMetrics(predictions, v.gts);
    close(tokenized.CIDEr, v.cider_d_corpus);
    expect(m.SPICE).toBeNull();
    expect(m.SPIDEr).toBeNull();
    expect(m.spiceUnavailableReason).toMatch(/no SPICE jar/);
  });
});

describe('caption metrics on hand-constructed cases', () => {
  it('repeated n-grams are clipped by the reference count', () => {
    // "the" appears 4 times in the candidate but at most 2 times in the reference: 2 of 4 unigrams
    // count; no bigram "the the" in the reference. testLen 4 < refLen 6, so BP = exp(1 - 6/4).
    const { perItem } = computeBleu(['the the the the'], [['the cat is on the mat']]);
    const expected = bleuByHand([2, 0, 0, 0], [4, 3, 2, 1], 4, 6);
    perItem[0].forEach((b, k) => expect(b).toBeCloseTo(expected[k], 14));
    expect(perItem[0][0]).toBeCloseTo(0.5 * Math.exp(-0.5), 9);
    // LCS("the cat is on the mat", "the the the the") = 2: precision 2/4, recall 2/6
    expect(rougeLItem('the the the the', ['the cat is on the mat'])).toBeCloseTo(rougeByHand(0.5, 1 / 3), 14);
  });

  it('a candidate longer than all references gets no brevity penalty; the closest reference length is used', () => {
    // 9 words; unigrams a/dog/barks match (3/9), bigrams "a dog", "dog barks" (2/8), trigram (1/7), no 4-gram.
    // Reference lengths 3 and 2: closest to 9 is 3; 9 > 3 so no penalty.
    const { perItem } = computeBleu(['a dog barks loudly at night in the park'], [['a dog barks', 'dog barking']]);
    const expected = bleuByHand([3, 2, 1, 0], [9, 8, 7, 6], 9, 3);
    perItem[0].forEach((b, k) => expect(b).toBeCloseTo(expected[k], 14));
    expect(perItem[0][1]).toBeCloseTo(Math.sqrt((3 / 9) * (2 / 8)), 9);
  });

  it('ties between reference lengths go to the shorter one', () => {
    // candidate 4 words, references of 3 and 5 words: both 1 away, pycocoevalcap takes 3 (no penalty).
    const tie = computeBleu(['a b c d'], [['a b c', 'a b c d e']]);
    expect(tie.perItem[0]).toEqual(bleuByHand([4, 3, 2, 1], [4, 3, 2, 1], 4, 3));
    // with references of 5 and 6 words the closest is 5 > 4: penalty exp(1 - 5/4)
    const longer = computeBleu(['a b c d'], [['a b c d e', 'a b c d e f']]);
    expect(longer.perItem[0][0]).toBeCloseTo(Math.exp(1 - 5 / 4), 8);
  });

  it('one-word captions: higher orders fall to the smoothing floor (1e-15 / 1e-9 = 1e-6 per missing order)', () => {
    const m = computeCaptionMetrics({ x: 'Dog.', y: 'cat' }, { x: ['dog', 'a cat'], y: ['a cat', 'cat'] });
    // x: "dog" matches; orders 2..4 have guess 0 -> precision 1e-6 each; reference lengths 1 and 2 -> 1.
    const expected = bleuByHand([1, 0, 0, 0], [1, 0, 0, 0], 1, 1);
    expect(m.perItem.x.Bleu_1).toBeCloseTo(expected[0], 14);
    expect(m.perItem.x.Bleu_2).toBeCloseTo(expected[1], 14);
    expect(m.perItem.x.Bleu_2).toBeCloseTo(1e-3, 9);
    expect(m.perItem.x.Bleu_4).toBeCloseTo(expected[3], 14);
    expect(m.perItem.x.ROUGE_L).toBeCloseTo(1, 14); // LCS 1: precision 1, best recall 1 ("dog")
    // corpus BLEU-1 pools counts: 2 correct of 2 guesses, testLen 2, refLen 1 + 1
    const corpus = bleuByHand([2, 0, 0, 0], [2, 0, 0, 0], 2, 2);
    expect(m.Bleu_1).toBeCloseTo(corpus[0], 14);
  });

  it('a corpus of one item has CIDEr-D 0 (idf = log(1) - log(1) = 0 for every n-gram)', () => {
    const m = computeCaptionMetrics({ only: 'a dog barks' }, { only: ['a dog barks', 'a dog is barking'] });
    expect(m.CIDEr).toBe(0);
    expect(m.perItem.only.Bleu_1).toBeCloseTo(bleuByHand([3], [3], 3, 3)[0], 14);
    expect(m.ROUGE_L).toBeCloseTo(1, 14);
  });

  it('identical candidate and references: ROUGE-L 1, BLEU ~1, CIDEr-D 10 x (orders present / 4)', () => {
    // Two items so that idf = log 2 for every n-gram of one item's references; the vectors are then
    // identical, cosine 1 for every order that has n-grams. "f g h" has no 4-gram: (1+1+1+0)/4.
    const m = computeCaptionMetrics(
      { p: 'a b c d e', q: 'f g h' },
      { p: ['a b c d e'], q: ['f g h'] },
      { tokenize: false },
    );
    expect(m.perItem.p.CIDEr).toBeCloseTo(10, 12);
    expect(m.perItem.q.CIDEr).toBeCloseTo(7.5, 12);
    expect(m.CIDEr).toBeCloseTo(8.75, 12);
    expect(m.perItem.p.ROUGE_L).toBe(1);
    const p = bleuByHand([5, 4, 3, 2], [5, 4, 3, 2], 5, 5);
    expect(m.perItem.p.Bleu_4).toBeCloseTo(p[3], 14);
    expect(m.perItem.p.Bleu_4).toBeGreaterThan(1 - 1e-9);
  });

  it('an empty candidate scores 0 everywhere and still adds its reference length to the corpus BP', () => {
    const m = computeCaptionMetrics({ e: '', f: 'a b c' }, { e: ['x y z'], f: ['a b c'] }, { tokenize: false });
    expect(m.perItem.e.Bleu_1).toBe(0); // BP = exp(1 - (3 + 1e-9) / 1e-15) underflows to 0
    expect(m.perItem.e.ROUGE_L).toBe(0);
    expect(m.perItem.e.CIDEr).toBe(0);
    // corpus: 3 correct of 3 guesses, testLen 3, refLen 3 + 3 = 6 -> BP exp(1 - 6/3)
    expect(m.Bleu_1).toBeCloseTo(bleuByHand([3], [3], 3, 6)[0], 14);
    // punctuation-only text is empty after PTB tokenisation
    const punct = computeCaptionMetrics({ e: '...', f: 'a b c' }, { e: ['x y z'], f: ['a b c'] });
    expect(punct.perItem.e.Bleu_1).toBe(0);
  });

  it('tokenises predictions and references before scoring', () => {
    const raw = computeCaptionMetrics({ a: 'A Dog, barking!' }, { a: ['a dog barking'] });
    expect(raw.perItem.a.Bleu_3).toBeCloseTo(bleuByHand([3, 2, 1], [3, 2, 1], 3, 3)[2], 14);
    const untouched = computeCaptionMetrics({ a: 'A Dog, barking!' }, { a: ['a dog barking'] }, { tokenize: false });
    // without tokenising, "A", "Dog," and "barking!" match nothing in "a dog barking"
    expect(untouched.perItem.a.Bleu_1).toBeCloseTo(bleuByHand([0], [3], 3, 3)[0], 20);
    expect(untouched.perItem.a.Bleu_1).toBeLessThan(1e-15);
  });
});

describe('n-gram keys beyond the compact numeric range', () => {
  it('per-item BLEU of an item does not depend on how many distinct words came before it', () => {
    // 9 000 distinct earlier words push this item's word ids past 8 192, where n-gram keys switch
    // from numbers to strings; the item's counts (and so its BLEU) must not change.
    const filler = Array.from({ length: 3000 }, (_, i) => `w${3 * i} w${3 * i + 1} w${3 * i + 2}`);
    const item = 'the cat sat on the mat the cat';
    const refs = ['the cat is on the mat', 'a cat sat on a mat the cat'];
    const alone = computeBleu([item], [refs]).perItem[0];
    const late = computeBleu([...filler, item], [...filler.map((f) => [f]), refs]).perItem[3000];
    expect(late).toEqual(alone);
    const r = computeCaptionMetrics({ x: item, y: 'w1 w2 w3' }, { x: refs, y: ['w1 w2 w3'] }, { tokenize: false });
    const rLate = computeCaptionMetrics(
      Object.fromEntries([...filler.map((f, i) => [`f${i}`, f]), ['x', item], ['y', 'w1 w2 w3']]),
      Object.fromEntries([...filler.map((f, i) => [`f${i}`, [f]]), ['x', refs], ['y', ['w1 w2 w3']]]),
      { tokenize: false },
    );
    expect(rLate.perItem.x.ROUGE_L).toBe(r.perItem.x.ROUGE_L);
    // CIDEr-D with string keys: a candidate equal to its only reference has cosine 1 in every order
    // (idf = log(3002) > 0 for its n-grams), so it scores exactly 10 x 4/4, as with numeric keys
    const c = computeCaptionMetrics(
      Object.fromEntries([...filler.map((f, i) => [`f${i}`, f]), ['x', 'zz1 zz2 zz3 zz4 zz5'], ['y', 'w1 w2 w3']]),
      Object.fromEntries([...filler.map((f, i) => [`f${i}`, [f]]), ['x', ['zz1 zz2 zz3 zz4 zz5']], ['y', ['w1 w2 w3']]]),
      { tokenize: false },
    );
    expect(c.perItem.x.CIDEr).toBeCloseTo(10, 12);
  });
});

describe('caption metric input errors', () => {
  it('names ids missing on either side', () => {
    expect(() => computeCaptionMetrics({ a: 'x', b: 'y' }, { a: ['x'], c: ['z'] })).toThrow(
      /1 id\(s\) have references but no prediction: "c"; 1 id\(s\) have a prediction but no references: "b"/,
    );
  });
  it('rejects non-string captions and empty reference lists', () => {
    expect(() => computeCaptionMetrics({ a: 5 as unknown as string }, { a: ['x'] })).toThrow(/id "a": caption must be a string, got number 5/);
    expect(() => computeCaptionMetrics({ a: 'x' }, { a: [] })).toThrow(/id "a": expected a non-empty array of strings/);
    expect(() => computeCaptionMetrics({ a: 'x' }, { a: ['ok', null as unknown as string] })).toThrow(/caption 1 must be a string, got null/);
    expect(() => computeCaptionMetrics({}, {})).toThrow(/no items/);
  });
  it('accepts a Map of predictions', () => {
    const m = computeCaptionMetrics(new Map([['a', 'a b']]), { a: ['a b'] });
    expect(m.perItem.a.ROUGE_L).toBe(1);
  });
});
