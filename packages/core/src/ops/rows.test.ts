/**
 * Row packing of right-padded batches (packRows / unpackRows) against tf.gather / a zero-padded
 * reference with tfjs autodiff on cpu, and the contiguous Slice kernel of the wasm backend against
 * the original kernel's results.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '../rng.js';
import { installContiguousWasmSlice } from '../wasm-slice.js';
import { packRows, unpackRows } from './index.js';

const rng = new Rng('rows');
const randn = (shape: number[]) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))) as Float32Array, shape);
const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('packRows / unpackRows (cpu)', () => {
  const lengths = [3, 1, 4];
  const T = 4;
  const realRows = lengths.flatMap((len, b) => Array.from({ length: len }, (_, t) => b * T + t));

  it('packRows keeps the first lengths[b] rows of each row block; its gradient is zero at the padding', async () => {
    await tf.setBackend('cpu');
    const x = randn([3 * T, 2]);
    const cot = randn([realRows.length, 2]);
    const packed = packRows(x as tf.Tensor2D, lengths, T);
    expect(values(packed)).toEqual(values(tf.gather(x, realRows)));
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(packRows(v as tf.Tensor2D, lengths, T), cot)))(x);
    const gRef = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, realRows), cot)))(x);
    expect(values(g)).toEqual(values(gRef));
  });

  it('unpackRows puts them back with zero padding; its gradient packs', async () => {
    const x = randn([realRows.length, 2]);
    const cot = randn([3 * T, 2]);
    const padded = unpackRows(x as tf.Tensor2D, lengths, T);
    const ref = tf.scatterND(tf.tensor2d(realRows, [realRows.length, 1], 'int32'), x, [3 * T, 2]);
    expect(values(padded)).toEqual(values(ref));
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(unpackRows(v as tf.Tensor2D, lengths, T), cot)))(x);
    expect(values(g)).toEqual(values(tf.gather(cot, realRows)));
    expect(values(packRows(padded, lengths, T))).toEqual(values(x));
  });

  it('names a bad length or row count', () => {
    expect(() => packRows(tf.zeros([8, 2]) as tf.Tensor2D, [2, 5], 4)).toThrow(/row 1 has length 5, expected 1..4/);
    expect(() => unpackRows(tf.zeros([5, 2]) as tf.Tensor2D, [2, 4], 4)).toThrow(/5 rows, expected 6/);
  });
});

describe('contiguous Slice on wasm', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });
  it('gives the values of the original kernel for contiguous and strided slices', async () => {
    const data = Array.from({ length: 5 * 6 * 3 }, (_, i) => i * 0.5 - 7);
    const cases: [number[], number[]][] = [
      [[1, 0, 0], [3, 6, 3]], // rows 1..3: contiguous
      [[2, 3, 0], [1, 2, 3]], // inside one row: contiguous
      [[0, 1, 1], [5, 3, 2]], // strided
      [[4, 5, 2], [1, 1, 1]],
    ];
    await tf.setBackend('cpu');
    const want = cases.map(([b, s]) => values(tf.slice(tf.tensor3d(data, [5, 6, 3]), b, s)));
    await tf.setBackend('wasm');
    installContiguousWasmSlice();
    installContiguousWasmSlice(); // idempotent
    const x = tf.tensor3d(data, [5, 6, 3]);
    cases.forEach(([b, s], i) => expect(values(tf.slice(x, b, s)), `case ${i}`).toEqual(want[i]));
    const v = tf.tensor1d([1, 2, 3, 4, 5], 'int32');
    expect(values(tf.slice(v, 1, 3))).toEqual([2, 3, 4]);
    tf.dispose([x, v]);
  });
});
