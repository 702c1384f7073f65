import { readFileSync } from 'node:fs';
import type { Embeddings } from '@mats/core';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averagePrecision,
  averagePrecisionPerClass,
  createBagOfWordsEncoder,
  matchPredictionsToLabels,
  meanAveragePrecision,
  type TextEmbedder,
} from './classification.js';
import { fixturePath } from './testing.js';

describe('accuracy', () => {
  it('counts exact matches, or membership when a target is a set', () => {
    expect(accuracy([1, 2, 3, 4], [1, 2, 0, 0])).toBe(0.5);
    expect(accuracy(['dog', 'cat'], [['dog', 'wolf'], ['bird']])).toBe(0.5);
    expect(() => accuracy([1], [1, 2])).toThrow(/1 predictions but 2 targets/);
  });
});

describe('average precision by hand', () => {
  it('distinct scores: AP = sum over thresholds of (R_k - R_{k-1}) P_k', () => {
    // ranks: + - + -  -> (P, R) = (1, .5), (.5, .5), (2/3, 1), (.5, 1)  -> .5*1 + .5*(2/3)
    expect(averagePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])).toBeCloseTo(0.5 + 1 / 3, 15);
  });
  it('tied scores form one threshold', () => {
    // 0.8: P 0, R 0; 0.5 (two items, one positive): P 1/3, R .5; 0.2: P .5, R 1 -> .5/3 + .5*.5
    expect(averagePrecision([0.5, 0.5, 0.2, 0.8], [1, 0, 1, 0])).toBeCloseTo(1 / 6 + 1 / 4, 15);
    // all tied: one threshold with P = prevalence, R = 1
    expect(averagePrecision([0.3, 0.3, 0.3, 0.3], [1, 0, 0, 1])).toBe(0.5);
    // a tie between a positive ranked first and a negative costs precision, unlike a strict order
    expect(averagePrecision([0.9, 0.9], [1, 0])).toBe(0.5);
    expect(averagePrecision([0.9, 0.8], [1, 0])).toBe(1);
  });
  it('a class without positives scores 0 and counts in the mean (scikit-learn 1.2)', () => {
    expect(averagePrecision([0.1, 0.5, 0.3], [0, 0, 0])).toBe(0);
    // class 0: scores .2 .5 .2 targets 1 0 1 -> .5: P 0 R 0; .2: P 2/3 R 1 -> AP 2/3; class 1: none -> 0
    expect(meanAveragePrecision([[0.2, 0.1], [0.5, 0.3], [0.2, 0.9]], [[1, 0], [0, 0], [1, 0]])).toBeCloseTo(1 / 3, 15);
  });
  it('rejects bad input', () => {
    expect(() => averagePrecision([NaN], [1])).toThrow(/score 0 is NaN/);
    expect(() => averagePrecision([0.1], [2])).toThrow(/target 0 is 2, expected 0 or 1/);
    expect(() => meanAveragePrecision([[0.1, 0.2], [0.3]], [[1, 0], [0, 1]])).toThrow(/score row 1 has 1 classes, expected 2/);
  });
});

describe('mAP against scikit-learn (fixtures/sklearn-average-precision.json)', () => {
  const fixture = JSON.parse(readFileSync(fixturePath('sklearn-average-precision.json'), 'utf8'));
  for (const c of fixture.cases as { name: string; scores: number[][]; targets: number[][]; perClass: number[]; macro: number }[]) {
    it(`${c.name}: per class and macro agree to 1e-12`, () => {
      const perClass = averagePrecisionPerClass(c.scores, c.targets);
      perClass.forEach((ap, k) => expect(Math.abs(ap - c.perClass[k])).toBeLessThan(1e-12));
      expect(Math.abs(meanAveragePrecision(c.scores, c.targets) - c.macro)).toBeLessThan(1e-12);
    });
  }
});

/** A test encoder: fixed vectors per text, and a record of what it was asked to embed. */
function tableEncoder(table: Record<string, number[]>): TextEmbedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async embedText(texts: string[]): Promise<Embeddings> {
      calls.push(texts);
      const dim = 3;
      const data = new Float32Array(texts.length * dim);
      texts.forEach((t, i) => {
        const v = table[t];
        if (!v) throw new Error(`no vector for ${JSON.stringify(t)}`);
        data.set(v, i * dim);
      });
      return { rows: texts.length, dim, data };
    },
  };
}

describe('matchPredictionsToLabels', () => {
  it('picks the label with the highest cosine similarity (scale does not matter)', async () => {
    const enc = tableEncoder({ dog: [1, 0, 0], rain: [0, 1, 0], 'a dog barking': [10, 1, 0], 'water falling': [0, 3, 4] });
    const r = await matchPredictionsToLabels(['a dog barking', 'water falling'], ['dog', 'rain'], enc);
    expect(r.predictedLabel).toEqual(['dog', 'rain']);
    expect(r.scores[0][0]).toBeCloseTo(10 / Math.sqrt(101), 12);
    expect(r.scores[1][1]).toBeCloseTo(3 / 5, 12);
    expect(r.scores[1][0]).toBe(0);
  });

  it("LTU options: 'sound of ' prefix on labels and lower-cased parts, '; ' split, max over parts", async () => {
    const enc = tableEncoder({
      'sound of dog bark': [1, 0, 0],
      'sound of rain': [0, 1, 0],
      'sound of engine': [0, 0, 1],
      'sound of dog': [0.8, 0.6, 0],
      'sound of rain falling': [0, 0.6, 0.8],
    });
    const r = await matchPredictionsToLabels(['Dog; rain falling'], ['Dog_Bark', 'Rain', 'Engine'], enc, {
      soundOfPrefix: true,
      multiLabelSeparator: ';',
    });
    // part 1 scores (.8, .6, 0), part 2 (0, .6, .8): max per label -> (.8, .6, .8); first best wins
    expect(r.scores[0].map((x) => Number(x.toFixed(6)))).toEqual([0.8, 0.6, 0.8]);
    expect(r.predictedIndex).toEqual([0]);
    const sum = await matchPredictionsToLabels(['Dog; rain falling'], ['Dog_Bark', 'Rain', 'Engine'], enc, {
      soundOfPrefix: true,
      multiLabelSeparator: ';',
      combine: 'sum',
    });
    expect(sum.scores[0][1]).toBeCloseTo(1.2, 6);
    expect(sum.predictedLabel).toEqual(['Rain']);
  });

  it('embeds each distinct text once, in batches', async () => {
    const enc = tableEncoder({ a: [1, 0, 0], b: [0, 1, 0], x: [1, 1, 0] });
    await matchPredictionsToLabels(['x', 'x', 'a'], ['a', 'b'], enc, { batchSize: 2 });
    expect(enc.calls).toEqual([['a', 'b'], ['x']]);
  });

  it('rejects encoders that return the wrong shape or zero vectors', async () => {
    const short: TextEmbedder = { embedText: async () => ({ rows: 1, dim: 2, data: new Float32Array(2) }) };
    await expect(matchPredictionsToLabels(['x'], ['a', 'b'], short)).rejects.toThrow(/returned 1 rows for 3 texts/);
    const zero = tableEncoder({ a: [0, 0, 0], x: [1, 0, 0] });
    await expect(matchPredictionsToLabels(['x'], ['a'], zero)).rejects.toThrow(/zero embedding for "a"/);
    await expect(matchPredictionsToLabels(['x'], [], zero)).rejects.toThrow(/label set is empty/);
  });

  it('the bag-of-words encoder matches by word overlap', async () => {
    const r = await matchPredictionsToLabels(['a dog is barking loudly', 'heavy rain'], ['dog barking', 'rain', 'car engine'], createBagOfWordsEncoder());
    expect(r.predictedLabel).toEqual(['dog barking', 'rain']);
    // "a dog is barking loudly" vs "dog barking": 2 shared words of 5 and 2 -> 2 / sqrt(5 * 2)
    expect(r.scores[0][0]).toBeCloseTo(2 / Math.sqrt(10), 6);
  });
});
