/**
 * Gradient-check harness: every op of the layer against tfjs's own autodiff of the plain formula on
 * the `cpu` backend (random shapes from a seeded rng, padding masks, trainable and frozen
 * variants), plus central finite differences of a directional derivative where cheap.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { attention, gatherRows, geluNew, layerNorm, linear, linearConstantInput, loraLinear, mergeHeads, residualAdd, splitHeads, tiedHeadCrossEntropy, tiedHeadLogits, weightedCrossEntropy } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = new Rng('ops-gradcheck');
const randn = (shape: number[], std = 1) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 0, std) as Float32Array, shape);
const dim = (lo: number, hi: number) => rng.int(hi - lo + 1) + lo;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
const maxAbs = (a: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);

/**
 * Checks value and gradients of `op` against `ref` (plain tfjs ops, tfjs autodiff) for the given
 * inputs. A non-scalar output is reduced with a fixed random cotangent, so every output element
 * feeds the gradient. Tolerance is relative to the largest reference magnitude.
 */
function expectSameGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, ref: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol = 1e-5): void {
  tf.tidy(() => {
    const yRef = ref(...inputs);
    const y = op(...inputs);
    expect(maxAbsDiff(y, yRef)).toBeLessThanOrEqual(tol * Math.max(1, maxAbs(yRef)));
    const cot = yRef.rank === 0 ? tf.scalar(1) : randn(yRef.shape);
    const reduce = (f: (...xs: tf.Tensor[]) => tf.Tensor) => (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), cot)) as tf.Scalar;
    const gRef = tf.grads(reduce(ref))(inputs);
    const g = tf.grads(reduce(op))(inputs);
    g.forEach((gi, i) => expect(maxAbsDiff(gi, gRef[i]), `gradient ${i}`).toBeLessThanOrEqual(tol * Math.max(1, maxAbs(gRef[i]))));
  });
}

/** Central difference of sum(op(x) * cot) along a random direction, against the analytic gradient. */
function expectFiniteDifference(op: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, eps = 1e-2, tol = 2e-2): void {
  tf.tidy(() => {
    const cot = randn(op(x).shape);
    const loss = (t: tf.Tensor) => tf.sum(tf.mul(op(t), cot)) as tf.Scalar;
    const dir = randn(x.shape);
    const analytic = tf.sum(tf.mul(tf.grad(loss)(x), dir)).dataSync()[0];
    const numeric = (loss(tf.add(x, tf.mul(dir, eps))).dataSync()[0] - loss(tf.sub(x, tf.mul(dir, eps))).dataSync()[0]) / (2 * eps);
    expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(numeric)));
  });
}

/** Padding + causal mask as an additive bias [B, 1, Tq, Tk]; queries are the last Tq of Tk positions. */
function maskBias(lengths: number[], tq: number, tk: number, causal: boolean): tf.Tensor4D {
  const data = new Float32Array(lengths.length * tq * tk);
  lengths.forEach((len, b) => {
    for (let q = 0; q < tq; q++) for (let k = 0; k < tk; k++) {
      const allowed = k < len && (!causal || k <= tk - tq + q);
      data[(b * tq + q) * tk + k] = allowed ? 0 : -1e9;
    }
  });
  return tf.tensor4d(data, [lengths.length, 1, tq, tk]);
}

describe('linear', () => {
  for (let trial = 0; trial < 3; trial++) {
    const n = dim(1, 9);
    const i = dim(1, 12);
    const o = dim(1, 10);
    it(`trainable [${n}, ${i}] . [${i}, ${o}]: with and without bias, with relu`, () => {
      const x = randn([n, i]);
      const w = randn([i, o]);
      const b = randn([o]);
      expectSameGrads((x, w) => linear(x as tf.Tensor2D, w as tf.Tensor2D), (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), [x, w]);
      expectSameGrads((x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), (x, w, b) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b), [x, w, b]);
      expectSameGrads(
        (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { relu: true }),
        (x, w, b) => tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b)),
        [x, w, b],
      );
      tf.dispose([x, w, b]);
    });
    it(`frozen [${n}, ${i}] . [${i}, ${o}]: gradient to x only, same as autodiff`, () => {
      const x = randn([n, i]);
      const w = randn([i, o]);
      const b = randn([o]);
      expectSameGrads((x) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { frozen: true }), (x) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b), [x]);
      expectSameGrads((x) => linear(x as tf.Tensor2D, w as tf.Tensor2D, null, { frozen: true, relu: true }), (x) => tf.relu(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D)), [x]);
      tf.dispose([x, w, b]);
    });
  }

  it('frozen: the weight gets no gradient and no tensor outlives the step', () => {
    const w = tf.variable(randn([5, 4]), false);
    const x = tf.variable(randn([3, 5]), true);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(linear(x as tf.Tensor2D, w as tf.Tensor2D, null, { frozen: true })) as tf.Scalar);
    expect(Object.keys(grads)).toEqual([x.name]);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, x]);
  });

  it('finite differences through relu(x . w + b)', () => {
    const w = randn([6, 5]);
    const b = randn([5]);
    expectFiniteDifference((x) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { relu: true }), randn([4, 6]), 1e-3);
    tf.dispose([w, b]);
  });

  it('linearConstantInput: x . w^T + b for w [out, in], gradients to w and b', () => {
    const x = randn([7, 5]);
    expectSameGrads(
      (w, b) => linearConstantInput(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
      (w, b) => tf.add(tf.matMul(x as tf.Tensor2D, tf.transpose(w as tf.Tensor2D)), b),
      [randn([9, 5]), randn([9])],
    );
    x.dispose();
  });

  it('residualAdd', () => {
    expectSameGrads((a, b) => residualAdd(a, b), (a, b) => tf.add(a, b), [randn([4, 3]), randn([4, 3])]);
  });
});

describe('loraLinear', () => {
  for (const withMask of [false, true]) {
    it(`frozen base + scaling * ((x * mask) A) B ${withMask ? 'with a dropout mask' : 'without dropout'}: gradients to x, A, B`, () => {
      const [n, i, o, r] = [dim(2, 8), dim(3, 10), dim(3, 9), dim(1, 4)];
      const w = randn([i, o]);
      const bias = randn([o]);
      const mask = withMask ? tf.tensor2d(Array.from({ length: n * i }, () => (rng.uniform() < 0.3 ? 0 : 1 / 0.7)), [n, i]) : null;
      const scaling = 2.5;
      expectSameGrads(
        (x, a, b) => loraLinear(x as tf.Tensor2D, w as tf.Tensor2D, bias as tf.Tensor1D, a as tf.Tensor2D, b as tf.Tensor2D, scaling, mask),
        (x, a, b) => {
          const xd = mask ? tf.mul(x, mask) : x;
          return tf.add(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), bias), tf.mul(tf.matMul(tf.matMul(xd as tf.Tensor2D, a as tf.Tensor2D), b as tf.Tensor2D), scaling));
        },
        [randn([n, i]), randn([i, r]), randn([r, o])],
      );
      tf.dispose([w, bias, ...(mask ? [mask] : [])]);
    });
  }
});

describe('layerNorm', () => {
  const reference = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  };
  for (let trial = 0; trial < 3; trial++) {
    const [n, c] = [dim(1, 8), dim(2, 16)];
    it(`[${n}, ${c}] trainable and frozen`, () => {
      const x = randn([n, c], 3);
      const g = randn([c]);
      const b = randn([c]);
      expectSameGrads((x, g, b) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), (x, g, b) => reference(x, g, b, 1e-5), [x, g, b]);
      expectSameGrads((x) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, { trainable: false }), (x) => reference(x, g, b, 1e-5), [x]);
      tf.dispose([x, g, b]);
    });
  }
  it('finite differences', () => {
    const g = randn([6]);
    const b = randn([6]);
    expectFiniteDifference((x) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), randn([3, 6]), 1e-3);
    tf.dispose([g, b]);
  });
});

describe('attention', () => {
  const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, bias?: tf.Tensor) => {
    const scores = tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), scale);
    return tf.matMul(tf.softmax(bias ? tf.add(scores, bias) : scores) as tf.Tensor4D, v as tf.Tensor4D);
  };
  for (let trial = 0; trial < 3; trial++) {
    const [B, H, T, D] = [dim(1, 3), dim(1, 3), dim(2, 6), dim(1, 5)];
    it(`[${B}, ${H}, ${T}, ${D}] causal with right padding`, () => {
      const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? T : dim(1, T)));
      const bias = maskBias(lengths, T, T, true);
      const scale = 1 / Math.sqrt(D);
      expectSameGrads((q, k, v) => attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { bias }), (q, k, v) => reference(q, k, v, scale, bias), [randn([B, H, T, D]), randn([B, H, T, D]), randn([B, H, T, D])]);
      bias.dispose();
    });
  }
  it('queries a suffix of the keys (the mapper\'s last block), no mask, custom scale', () => {
    const [B, H, Tq, Tk, D] = [2, 3, 2, 5, 4];
    expectSameGrads((q, k, v) => attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { scale: 0.7 }), (q, k, v) => reference(q, k, v, 0.7), [randn([B, H, Tq, D]), randn([B, H, Tk, D]), randn([B, H, Tk, D])]);
  });
  it('suffix queries with a causal offset and padding', () => {
    const bias = maskBias([6, 4], 3, 6, true);
    expectSameGrads((q, k, v) => attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { bias }), (q, k, v) => reference(q, k, v, 0.5, bias), [randn([2, 2, 3, 4]), randn([2, 2, 6, 4]), randn([2, 2, 6, 4])]);
    bias.dispose();
  });
  it('finite differences w.r.t. the queries', () => {
    const k = randn([1, 2, 4, 3]);
    const v = randn([1, 2, 4, 3]);
    expectFiniteDifference((q) => attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), randn([1, 2, 4, 3]), 1e-3);
    tf.dispose([k, v]);
  });
  it('splitHeads / mergeHeads are inverse and put heads side by side in the columns', () => {
    const x = tf.tensor2d(Array.from({ length: 2 * 3 * 4 }, (_, i) => i), [2 * 3, 4]); // B 2, T 3, C 4
    const h = splitHeads(x, 2, 2);
    expect(h.shape).toEqual([2, 2, 3, 2]);
    expect(Array.from(tf.slice(h, [0, 1, 0, 0], [1, 1, 1, 2]).dataSync())).toEqual([2, 3]); // batch 0, head 1, t 0
    expect(Array.from(mergeHeads(h).dataSync())).toEqual(Array.from(x.dataSync()));
  });
});

describe('geluNew', () => {
  const reference = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
  it('equals 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) with the same gradient', () => {
    expectSameGrads((x) => geluNew(x), reference, [randn([5, 7], 3)]);
  });
  it('finite differences', () => expectFiniteDifference((x) => geluNew(x), randn([4, 5], 2), 1e-3));
});

describe('cross-entropy', () => {
  const reference = (logits: tf.Tensor, targets: Int32Array, weights: Float32Array, total: number) => {
    const V = logits.shape[1] as number;
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1));
    return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), total);
  };
  const batch = (n: number, V: number) => {
    const targets = Int32Array.from({ length: n }, () => rng.int(V));
    const weights = Float32Array.from({ length: n }, (_, i) => (i === 0 || rng.uniform() < 0.6 ? 1 : 0));
    return { targets, weights, total: weights.reduce((a, b) => a + b, 0) };
  };

  it('weightedCrossEntropy: own total and an explicit denominator', () => {
    const { targets, weights, total } = batch(9, 11);
    expectSameGrads((l) => weightedCrossEntropy(l as tf.Tensor2D, targets, weights), (l) => reference(l, targets, weights, total), [randn([9, 11], 2)]);
    expectSameGrads((l) => weightedCrossEntropy(l as tf.Tensor2D, targets, weights, 40), (l) => reference(l, targets, weights, 40), [randn([9, 11], 2)]);
  });

  it('tiedHeadCrossEntropy over several row chunks (frozen table)', () => {
    const [N, C, V] = [10, 6, 13];
    const { targets, weights, total } = batch(N, V);
    const table = randn([V, C]);
    for (const chunk of [3, 64]) {
      expectSameGrads((h) => tiedHeadCrossEntropy(h as tf.Tensor2D, table as tf.Tensor2D, targets, weights, undefined, chunk), (h) => reference(tf.matMul(h as tf.Tensor2D, tf.transpose(table as tf.Tensor2D)), targets, weights, total), [randn([N, C])]);
    }
    expectSameGrads((h) => tiedHeadCrossEntropy(h as tf.Tensor2D, table as tf.Tensor2D, targets, weights, 25, 4), (h) => reference(tf.matMul(h as tf.Tensor2D, tf.transpose(table as tf.Tensor2D)), targets, weights, 25), [randn([N, C])]);
    table.dispose();
  });

  it('tiedHeadLogits: frozen (dh only) and trainable (dh and dtable)', () => {
    const table = randn([13, 6]);
    expectSameGrads((h) => tiedHeadLogits(h as tf.Tensor2D, table as tf.Tensor2D), (h) => tf.matMul(h as tf.Tensor2D, tf.transpose(table as tf.Tensor2D)), [randn([5, 6])]);
    expectSameGrads((h, t) => tiedHeadLogits(h as tf.Tensor2D, t as tf.Tensor2D, { frozen: false }), (h, t) => tf.matMul(h as tf.Tensor2D, tf.transpose(t as tf.Tensor2D)), [randn([5, 6]), table]);
    table.dispose();
  });

  it('errors name the op and the mismatch', () => {
    const l = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => weightedCrossEntropy(l, new Int32Array(3), new Float32Array(3))).toThrow(/weightedCrossEntropy: 2 rows but 3 targets and 3 weights/);
    expect(() => weightedCrossEntropy(l, new Int32Array(2), new Float32Array(2))).toThrow(/no position carries loss weight/);
    expect(() => tiedHeadCrossEntropy(l, tf.zeros([4, 5]) as tf.Tensor2D, new Int32Array(2), new Float32Array([1, 1]))).toThrow(/hidden width 3 but the table is \[4, 5\]/);
    l.dispose();
  });
});

describe('gatherRows', () => {
  it('picks rows in the given order; the gradient scatters back (tf.gather autodiff on cpu)', () => {
    const index = Int32Array.from([4, 0, 2]);
    expectSameGrads((x) => gatherRows(x as tf.Tensor2D, index), (x) => tf.gather(x, tf.tensor1d(index, 'int32')), [randn([6, 3])]);
  });
  it('rejects an index outside the rows', () => {
    expect(() => gatherRows(tf.zeros([2, 3]) as tf.Tensor2D, Int32Array.from([0, 2]))).toThrow(/row index 2 outside \[0, 2\)/);
  });
});
