import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom.js';

function checkIndex(name: string, index: Int32Array, rows: number): void {
  for (const i of index) if (!(i >= 0 && i < rows)) throw new Error(`${name}: row index ${i} outside [0, ${rows})`);
}

/**
 * Rows `index` of x [n, c] -> [index.length, c] (tf.gather on axis 0) with a gradient that scatters
 * back (zero in the rows not picked). tfjs's own gather gradient (UnsortedSegmentSum) is missing on
 * wasm; here it is a scatterND. The indices must be distinct.
 */
export function gatherRows(x: tf.Tensor2D, index: Int32Array): tf.Tensor2D {
  const [n, c] = x.shape;
  checkIndex('gatherRows', index, n);
  const f = customOp(([xs]) => ({
    value: tf.tidy(() => tf.gather(xs, tf.tensor1d(index, 'int32'))),
    gradFunc: (dy) => [tf.scatterND(tf.tensor2d(index, [index.length, 1], 'int32'), dy, [n, c])],
  }));
  return f(x) as tf.Tensor2D;
}

function checkLengths(name: string, lengths: number[], T: number): number {
  let total = 0;
  lengths.forEach((len, b) => {
    if (!Number.isInteger(len) || len < 1 || len > T) throw new Error(`${name}: row ${b} has length ${len}, expected 1..${T}`);
    total += len;
  });
  return total;
}

/** [batch * T, c] -> the first lengths[b] rows of each block of T, one after another. */
function pack(x: tf.Tensor, lengths: number[], T: number): tf.Tensor2D {
  const c = x.shape[1] as number;
  const parts = lengths.map((len, b) => tf.slice(x, [b * T, 0], [len, c]));
  return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor2D;
}

/** The inverse of pack: every row's block padded with zero rows to T. */
function unpack(x: tf.Tensor, lengths: number[], T: number): tf.Tensor2D {
  const c = x.shape[1] as number;
  const parts: tf.Tensor[] = [];
  let offset = 0;
  for (const len of lengths) {
    parts.push(tf.slice(x, [offset, 0], [len, c]));
    if (len < T) parts.push(tf.zeros([T - len, c]));
    offset += len;
  }
  return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor2D;
}

/**
 * Drops the padding of right-padded rows: x [batch * T, c] (row b's positions at b * T ..) ->
 * [sum(lengths), c], the first lengths[b] positions of every row one after another. Row-wise work
 * (projections, LayerNorm, MLP) on the packed rows skips the padding. The gradient is unpackRows
 * (zero at the padding). Slices of whole row blocks and one concat; no gather.
 */
export function packRows(x: tf.Tensor2D, lengths: number[], T: number): tf.Tensor2D {
  checkLengths('packRows', lengths, T);
  if (x.shape[0] !== lengths.length * T) throw new Error(`packRows: ${x.shape[0]} rows, expected ${lengths.length} x ${T}`);
  const f = customOp(([xs]) => ({
    value: tf.tidy(() => pack(xs, lengths, T)),
    gradFunc: (dy) => [unpack(dy, lengths, T)],
  }));
  return f(x) as tf.Tensor2D;
}

/** The inverse of packRows: packed rows [sum(lengths), c] -> [batch * T, c] with zero padding. The gradient is packRows. */
export function unpackRows(x: tf.Tensor2D, lengths: number[], T: number): tf.Tensor2D {
  const total = checkLengths('unpackRows', lengths, T);
  if (x.shape[0] !== total) throw new Error(`unpackRows: ${x.shape[0]} rows, expected ${total} (the sum of the lengths)`);
  const f = customOp(([xs]) => ({
    value: tf.tidy(() => unpack(xs, lengths, T)),
    gradFunc: (dy) => [pack(dy, lengths, T)],
  }));
  return f(x) as tf.Tensor2D;
}
