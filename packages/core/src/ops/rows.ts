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
