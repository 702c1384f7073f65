import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom.js';

/** Swaps the last two axes of a rank-4 tensor (a cheap copy on wasm, unlike a transposed matMul). */
const swapLast = (x: tf.Tensor): tf.Tensor4D => tf.transpose(x as tf.Tensor4D, [0, 1, 3, 2]);

export interface AttentionOptions {
  /**
   * Additive bias broadcast onto the scores [batch, heads, Tq, Tk], e.g. [batch, 1, Tq, Tk] with 0
   * where a query may attend and a large negative number elsewhere (causal and padding masks).
   */
  bias?: tf.Tensor;
  /** Multiplies q k^T before the bias; default 1 / sqrt(headDim). */
  scale?: number;
}

/**
 * softmax(q k^T * scale + bias) v for q [B, H, Tq, D], k and v [B, H, Tk, D] -> [B, H, Tq, D].
 * Queries may be fewer than keys (the last Tq positions, as in the mapper's last block; a causal
 * bias must then be built for that offset). Keeps q, k, v and the probabilities; every product of
 * the forward and backward pass is flag-free.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions = {}): tf.Tensor4D {
  const scale = options.scale ?? 1 / Math.sqrt(q.shape[3]);
  const bias = options.bias;
  const f = customOp(([qs, ks, vs], save) => {
    const [value, probs] = tf.tidy(() => {
      const scores = tf.mul(tf.matMul(qs as tf.Tensor4D, swapLast(ks)), scale);
      const p = tf.softmax(bias ? tf.add(scores, bias) : scores);
      return [tf.matMul(p as tf.Tensor4D, vs as tf.Tensor4D), p];
    });
    save([qs, ks, vs, probs]);
    return {
      value,
      gradFunc: (dy, [q2, k2, v2, p]) => {
        const g = dy as tf.Tensor4D;
        const dp = tf.matMul(g, swapLast(v2));
        const dv = tf.matMul(swapLast(p), g);
        // softmax backward, then the scale.
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale) as tf.Tensor4D;
        return [tf.matMul(ds, k2 as tf.Tensor4D), tf.matMul(swapLast(ds), q2 as tf.Tensor4D), dv];
      },
    };
  });
  return f(q, k, v) as tf.Tensor4D;
}

/** [batch * T, heads * D] (heads side by side in the columns) -> [batch, heads, T, D]. */
export function splitHeads(x: tf.Tensor2D, batch: number, heads: number): tf.Tensor4D {
  const [rows, width] = x.shape;
  return tf.transpose(tf.reshape(x, [batch, rows / batch, heads, width / heads]), [0, 2, 1, 3]);
}

/** [batch, heads, T, D] -> [batch * T, heads * D], the inverse of splitHeads. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor2D {
  const [B, H, T, D] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B * T, H * D]);
}
