/**
 * attentionRows on the wasm backend (its depthwise-convolution products) against the plain formula
 * differentiated by tfjs autodiff (batched matMuls), values and all three gradients, with causal +
 * padding masks and with fewer queries than keys. On cpu it is the splitHeads / attention /
 * mergeHeads composition, checked the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '../rng.js';
import { attentionRows, mergeHeads, splitHeads } from './index.js';

const rng = new Rng('attention-rows');
const randn = (shape: number[]) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))) as Float32Array, shape);
const maxAbs = (a: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
};

/** Causal (queries are the last Tq of Tk positions) + right padding, as [B, 1, Tq, Tk]. */
function maskBias(lengths: number[], tq: number, tk: number): tf.Tensor4D {
  const data = new Float32Array(lengths.length * tq * tk);
  lengths.forEach((len, b) => {
    for (let q = 0; q < tq; q++) for (let k = 0; k < tk; k++) data[(b * tq + q) * tk + k] = k < len && k <= tk - tq + q ? 0 : -1e9;
  });
  return tf.tensor4d(data, [lengths.length, 1, tq, tk]);
}

function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, B: number, H: number, scale: number, bias?: tf.Tensor): tf.Tensor {
  const [q4, k4, v4] = [q, k, v].map((x) => splitHeads(x as tf.Tensor2D, B, H));
  const scores = tf.mul(tf.matMul(q4, k4, false, true), scale);
  return mergeHeads(tf.matMul(tf.softmax(bias ? tf.add(scores, bias) : scores) as tf.Tensor4D, v4) as tf.Tensor4D);
}

function check(B: number, H: number, Tq: number, Tk: number, D: number, bias?: tf.Tensor4D): void {
  tf.tidy(() => {
    const scale = 1 / Math.sqrt(D);
    const inputs = [randn([B * Tq, H * D]), randn([B * Tk, H * D]), randn([B * Tk, H * D])];
    const cot = randn([B * Tq, H * D]);
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(attentionRows(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, B, H, { bias }), cot)) as tf.Scalar;
    const ref = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(reference(q, k, v, B, H, scale, bias), cot)) as tf.Scalar;
    const y = attentionRows(inputs[0] as tf.Tensor2D, inputs[1] as tf.Tensor2D, inputs[2] as tf.Tensor2D, B, H, { bias });
    const yRef = reference(inputs[0], inputs[1], inputs[2], B, H, scale, bias);
    expect(maxDiff(y, yRef)).toBeLessThan(1e-5 * Math.max(1, maxAbs(yRef)));
    const g = tf.grads(op)(inputs);
    const gRef = tf.grads(ref)(inputs);
    g.forEach((gi, i) => expect(maxDiff(gi, gRef[i]), `gradient ${i}`).toBeLessThan(1e-5 * Math.max(1, maxAbs(gRef[i]))));
  });
}

for (const backend of ['wasm', 'cpu']) {
  describe(`attentionRows on ${backend}`, () => {
    beforeAll(async () => {
      await tf.setBackend(backend);
    });
    afterAll(async () => {
      await tf.setBackend('cpu');
    });
    it('causal with right padding (GPT-2 training shapes, small)', () => {
      const bias = maskBias([7, 4, 6], 7, 7);
      check(3, 2, 7, 7, 4, bias);
      bias.dispose();
    });
    it('fewer queries than keys, no mask (the mapper\'s last block)', () => check(2, 4, 3, 8, 5));
    it('suffix queries with a causal offset and padding', () => {
      const bias = maskBias([6, 4], 3, 6);
      check(2, 2, 3, 6, 4, bias);
      bias.dispose();
    });
    it('one head, one row', () => check(1, 1, 5, 5, 3));
    it('rejects operands that do not split into rows and heads', () => {
      expect(() => attentionRows(tf.zeros([6, 4]) as tf.Tensor2D, tf.zeros([6, 4]) as tf.Tensor2D, tf.zeros([6, 4]) as tf.Tensor2D, 4, 2)).toThrow(/do not split into 4 rows and 2 heads/);
    });
  });
}
