import { Rng, createEmbeddings, embeddingsFromRows, l2Normalize, rowNorms } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { estimateNoiseVariance, injectNoise, modalityGap } from './index.js';

function randomEmbeddings(rows: number, dim: number, seed: number) {
  const e = createEmbeddings(rows, dim);
  new Rng(seed).fillNormal(e.data, 0.3, 2);
  return e;
}

describe('injectNoise', () => {
  it('with variance 0 is plain L2 normalisation', () => {
    const out = injectNoise(embeddingsFromRows([[3, 4], [0, -2]]), { variance: 0 });
    expect(Array.from(out.data)).toEqual([0.6000000238418579, 0.800000011920929, 0, -1]);
  });

  it('adds noise whose empirical std is sqrt(variance) (statistical test over 200 000 values)', () => {
    const x = randomEmbeddings(200, 1000, 1);
    const clean = l2Normalize(x);
    const n = x.data.length;
    for (const variance of [0.015, 0.04]) {
      const noisy = injectNoise(x, { variance, rng: new Rng(2), renormalize: false });
      let sum = 0;
      let sumSq = 0;
      let withinOneStd = 0;
      const std = Math.sqrt(variance);
      for (let i = 0; i < n; i++) {
        const e = noisy.data[i] - clean.data[i];
        sum += e;
        sumSq += e * e;
        if (Math.abs(e) < std) withinOneStd++;
      }
      const mean = sum / n;
      const empiricalStd = Math.sqrt(sumSq / n - mean * mean);
      // Sampling error of a std estimate is std / sqrt(2n) = 0.16% of std here: 1% is > 6 sigma, and
      // a wrong reading (std = variance: 0.015, or std = variance^2) is off by a factor of 8 or more.
      expect(Math.abs(empiricalStd / std - 1)).toBeLessThan(0.01);
      // Mean: sampling sd std / sqrt(n) = 0.0022 std; allow 5 sigma.
      expect(Math.abs(mean)).toBeLessThan(0.011 * std);
      // Gaussian shape: P(|e| < std) = 0.6827, sampling sd 0.001; allow 5 sigma.
      expect(Math.abs(withinOneStd / n - 0.6827)).toBeLessThan(0.0052);
    }
  });

  it('renormalises by default: unit-norm rows, equal to normalising the raw noisy rows', () => {
    const x = randomEmbeddings(50, 64, 3);
    const out = injectNoise(x, { variance: 0.015, rng: new Rng(4) });
    for (const v of rowNorms(out)) expect(v).toBeCloseTo(1, 6);
    const raw = injectNoise(x, { variance: 0.015, rng: new Rng(4), renormalize: false });
    const expected = l2Normalize(raw);
    for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBeCloseTo(expected.data[i], 6);
    // Actually noisy: the average cosine with the clean rows is about 1 / sqrt(1 + 64 * 0.015) = 0.71.
    const clean = l2Normalize(x);
    let cos = 0;
    for (let i = 0; i < out.data.length; i++) cos += out.data[i] * clean.data[i];
    expect(cos / 50).toBeGreaterThan(0.6);
    expect(cos / 50).toBeLessThan(0.8);
  });

  it('is deterministic per seed and leaves its input alone', () => {
    const x = randomEmbeddings(10, 8, 5);
    const copy = new Float32Array(x.data);
    const a = injectNoise(x, { variance: 0.02, rng: new Rng(9) });
    const b = injectNoise(x, { variance: 0.02, rng: new Rng(9) });
    const c = injectNoise(x, { variance: 0.02, rng: new Rng(10) });
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
    expect(x.data).toEqual(copy);
  });

  it('rejects NaN, zero rows, bad variances and a missing rng', () => {
    expect(() => injectNoise({ rows: 1, dim: 2, data: Float32Array.from([1, Number.NaN]) }, { variance: 0 })).toThrow(/non-finite value NaN at row 0, column 1/);
    expect(() => injectNoise(embeddingsFromRows([[0, 0]]), { variance: 0 })).toThrow(/all zeros/);
    expect(() => injectNoise(embeddingsFromRows([[1, 0]]), { variance: -1 })).toThrow(/variance must be a finite number >= 0, got -1/);
    expect(() => injectNoise(embeddingsFromRows([[1, 0]]), { variance: Number.NaN })).toThrow(/variance must be/);
    expect(() => injectNoise(embeddingsFromRows([[1, 0]]), { variance: 0.1 })).toThrow(/rng is required/);
    expect(() => injectNoise(createEmbeddings(0, 4), { variance: 0 })).toThrow(/is empty/);
  });
});

describe('modality gap and the noise-variance estimate', () => {
  // Audio rows (2, 0) and (0, 3) normalise to e1 and e2; text rows are e2 and e2.
  const audio = embeddingsFromRows([[2, 0], [0, 3]]);
  const text = embeddingsFromRows([[0, 5], [0, 1]]);

  it('matches hand-computed statistics', () => {
    const gap = modalityGap(audio, text);
    expect(gap.pairs).toBe(2);
    expect(gap.meanPairedCosine).toBeCloseTo((0 + 1) / 2, 12); // e1.e2 = 0, e2.e2 = 1
    expect(gap.meanPairedDistance).toBeCloseTo((Math.SQRT2 + 0) / 2, 7); // |e1 - e2| = sqrt 2
    expect(gap.centroidDistance).toBeCloseTo(Math.SQRT1_2, 7); // (.5, .5) vs (0, 1)
    expect(gap.meanInfNorm).toBeCloseTo((1 + 0) / 2, 12); // ||e1 - e2||_inf = 1
    expect(gap.noiseVariance).toBeCloseTo(0.25, 12);
    expect(estimateNoiseVariance(audio, text)).toBeCloseTo(0.25, 12);
  });

  it('rejects mismatched pairs and NaN', () => {
    expect(() => modalityGap(audio, embeddingsFromRows([[0, 1]]))).toThrow(/expected 2 rows, got 1/);
    expect(() => modalityGap(audio, embeddingsFromRows([[0, 1, 0], [1, 0, 0]]))).toThrow(/expected dim 2, got 3/);
    expect(() => modalityGap(audio, { rows: 2, dim: 2, data: Float32Array.from([0, 1, Number.NaN, 1]) })).toThrow(/row 1, column 0/);
  });
});
