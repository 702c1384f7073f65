import { readFileSync } from 'node:fs';
import { Rng, createEmbeddings, embeddingsFromRows } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { fitLogisticRegression, gapStatistics, linearSeparability, modalityGap, noisyTextCosine, predictLogistic } from './index.js';

describe('fitLogisticRegression', () => {
  it('finds the hand-derived optimum of a symmetric 1-d problem', () => {
    // x = -1 (label 0) and x = +1 (label 1), penalty l2/2 w^2 with l2 = 0.5. By symmetry b = 0, and the
    // gradient mean((sigmoid(w x) - y) x) + l2 w = sigmoid(w) - 1 + 0.5 w vanishes at
    // w = 0.6748316143423995 (scipy.optimize.brentq on that equation).
    const model = fitLogisticRegression(embeddingsFromRows([[-1], [1]]), [0, 1], { l2: 0.5 });
    expect(model.weights[0]).toBeCloseTo(0.6748316143423995, 9);
    expect(model.bias).toBeCloseTo(0, 12);
    const w = 0.6748316143423995;
    expect(model.loss).toBeCloseTo(Math.log1p(Math.exp(-w)) + 0.25 * w * w, 9);
    expect(Array.from(predictLogistic(model, embeddingsFromRows([[-0.1], [0.1]])))).toEqual([0, 1]);
  });

  it('learns the log-odds as the bias when the features carry nothing (the bias is not penalised)', () => {
    const model = fitLogisticRegression(embeddingsFromRows([[0, 0], [0, 0], [0, 0]]), [1, 1, 0], { l2: 1 });
    expect(model.bias).toBeCloseTo(Math.log(2), 9);
    expect(Array.from(model.weights)).toEqual([0, 0]);
  });

  it('rejects labels other than 0 / 1 and a label count that does not match', () => {
    expect(() => fitLogisticRegression(embeddingsFromRows([[1], [2]]), [0, 2])).toThrow(/label 1 must be 0 or 1, got 2/);
    expect(() => fitLogisticRegression(embeddingsFromRows([[1], [2]]), [0])).toThrow(/2 rows but 1 labels/);
  });
});

function cloud(rows: number, dim: number, centre: number[], spread: number, seed: number) {
  const e = createEmbeddings(rows, dim);
  const rng = new Rng(seed);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) e.data[i * dim + j] = (centre[j] ?? 0) + spread * rng.normal();
  return e;
}

describe('linearSeparability', () => {
  it('is exactly 0.5 when audio and text are the same vectors (every held-out pair: one right, one wrong)', () => {
    const a = cloud(40, 8, [], 1, 1);
    const s = linearSeparability(a, a, { seed: 3 });
    expect(s).toMatchObject({ accuracy: 0.5, trainAccuracy: 0.5, trainPairs: 20, testPairs: 20 });
  });

  it('is 1 when the two clouds sit around different directions, and the split keeps pairs together', () => {
    const audio = cloud(30, 8, [1, 0, 0, 0, 0, 0, 0, 0], 0.1, 1);
    const text = cloud(30, 8, [0, 1, 0, 0, 0, 0, 0, 0], 0.1, 2);
    const s = linearSeparability(audio, text, { testFraction: 0.3, seed: 0 });
    expect(s).toMatchObject({ accuracy: 1, trainAccuracy: 1, trainPairs: 21, testPairs: 9 });
  });

  it('needs at least two pairs and matching shapes', () => {
    const one = embeddingsFromRows([[1, 0]]);
    expect(() => linearSeparability(one, one)).toThrow(/1 pairs cannot be split/);
    expect(() => linearSeparability(cloud(4, 3, [], 1, 1), cloud(4, 2, [], 1, 1))).toThrow();
  });
});

describe('noisyTextCosine', () => {
  it('is 1 without noise and follows 1 / sqrt(1 + dim * variance) in high dimension', () => {
    const t = cloud(200, 512, [], 1, 5);
    const none = noisyTextCosine(t, 0, new Rng(1));
    expect(none.measured).toBeCloseTo(1, 6);
    expect(none.expected).toBe(1);
    const noisy = noisyTextCosine(t, 0.004, new Rng(1));
    expect(noisy.expected).toBeCloseTo(1 / Math.sqrt(1 + 512 * 0.004), 12);
    // numpy, same sizes: 0.5696 measured vs 0.5728 expected.
    expect(Math.abs(noisy.measured - noisy.expected)).toBeLessThan(0.015);
  });
});

describe('gapStatistics', () => {
  it('reports the modality gap, the separability and the noisy cosine of hand-checkable pairs', () => {
    // Audio on the x axis, text on the y axis: paired cosine 0, centroid distance sqrt(2),
    // infinity norm 1 per pair (variance estimate 1), and a hyperplane (x = y) separates them.
    const audio = embeddingsFromRows([[2, 0], [1, 0], [3, 0], [0.5, 0]]);
    const text = embeddingsFromRows([[0, 1], [0, 4], [0, 2], [0, 0.5]]);
    const g = gapStatistics(audio, text, { variances: [0] });
    expect(g.pairs).toBe(4);
    expect(g.dim).toBe(2);
    expect(g.meanPairedCosine).toBeCloseTo(0, 12);
    expect(g.centroidDistance).toBeCloseTo(Math.SQRT2, 6);
    expect(g.meanInfNorm).toBeCloseTo(1, 6);
    expect(g.noiseVariance).toBeCloseTo(1, 6);
    expect(g.separability.accuracy).toBe(1);
    expect(g.noisyTextCosine).toEqual([{ variance: 0, measured: expect.closeTo(1, 6), expected: 1 }]);
    expect({ ...g, dim: undefined, separability: undefined, noisyTextCosine: undefined }).toMatchObject(modalityGap(audio, text));
  });
});

// Produced by tools/make_gap_fixture.py: scipy L-BFGS-B on the same objective, and numpy gap statistics.
const fixture = JSON.parse(readFileSync(new URL('../fixtures/gap.json', import.meta.url), 'utf8'));

describe('gap statistics against scipy / numpy', () => {
  it('fitLogisticRegression reaches the optimum scipy finds on overlapping clouds', () => {
    const { x, labels, l2, weights, bias, loss } = fixture.logistic;
    const model = fitLogisticRegression(embeddingsFromRows(x), labels, { l2 });
    Array.from(model.weights).forEach((w, i) => expect(w).toBeCloseTo(weights[i], 6));
    expect(model.bias).toBeCloseTo(bias, 6);
    expect(model.loss).toBeCloseTo(loss, 6);
  });

  it('gapStatistics carries numpy\'s paired cosine, distances and infinity norm', () => {
    const g = fixture.gap;
    const stats = gapStatistics(embeddingsFromRows(g.audio), embeddingsFromRows(g.text));
    expect(stats.meanPairedCosine).toBeCloseTo(g.meanPairedCosine, 6);
    expect(stats.meanPairedDistance).toBeCloseTo(g.meanPairedDistance, 6);
    expect(stats.centroidDistance).toBeCloseTo(g.centroidDistance, 6);
    expect(stats.meanInfNorm).toBeCloseTo(g.meanInfNorm, 6);
    expect(stats.noiseVariance).toBeCloseTo(g.meanInfNorm ** 2, 6);
    expect(stats.separability.trainPairs + stats.separability.testPairs).toBe(25);
  });
});
