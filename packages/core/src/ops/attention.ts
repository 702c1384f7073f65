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

/**
 * Multi-head attention on row layouts: q [batch * Tq, heads * D], k and v [batch * Tk, heads * D]
 * (heads side by side in the columns, as projections make them) -> context [batch * Tq, heads * D].
 * The same function as mergeHeads(attention(splitHeads(q), splitHeads(k), splitHeads(v))), with the
 * bias given as for `attention` ([batch, 1, Tq, Tk] or [batch, heads, Tq, Tk]).
 *
 * On the wasm backend the six batched products (two forward, four backward) are depthwise
 * convolutions: tfjs-wasm runs a batched matMul as a scalar loop (its XNNPACK kernels take only
 * plain 2-D products), while a depthwise convolution with one channel per (row, head), a filter as
 * wide as the shared axis and a channel multiplier of the output length is the same sum on
 * XNNPACK's vectorised kernels: 3-4x faster at the world preset's shapes. The layouts are chosen so
 * that every operand is one transpose away from the rows. Other backends take the batched matMuls.
 */
export function attentionRows(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, heads: number, options: AttentionOptions = {}): tf.Tensor2D {
  const [rowsQ, width] = q.shape;
  const rowsK = k.shape[0];
  if (rowsQ % batch !== 0 || rowsK % batch !== 0 || width % heads !== 0 || k.shape[1] !== width || v.shape[0] !== rowsK || v.shape[1] !== width) {
    throw new Error(`attentionRows: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not split into ${batch} rows and ${heads} heads`);
  }
  if (tf.getBackend() !== 'wasm') return mergeHeads(attention(splitHeads(q, batch, heads), splitHeads(k, batch, heads), splitHeads(v, batch, heads), options));
  const B = batch;
  const H = heads;
  const D = width / H;
  const Tq = rowsQ / B;
  const Tk = rowsK / B;
  const BH = B * H;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const bias = options.bias;
  // out[c, i, j] = sum_s x[c, i, s] y[c, s, j] over channels c = (row, head), as a depthwise
  // convolution: input [1, I, S, c] (x), filter [1, S, c, J] (y), output [1, I, 1, c * J] = [I, c, J].
  const product = (input: tf.Tensor, filter: tf.Tensor, I: number, S: number, J: number): tf.Tensor3D =>
    tf.reshape(tf.depthwiseConv2d(tf.reshape(input, [1, I, S, BH]) as tf.Tensor4D, tf.reshape(filter, [1, S, BH, J]) as tf.Tensor4D, 1, 'valid'), [I, BH, J]);
  // [B * T, H * D] -> [B, T, H, D] -> perm.
  const layout = (x: tf.Tensor, T: number, perm: number[]) => tf.transpose(tf.reshape(x, [B, T, H, D]), perm);
  // [T, B * H, D] (a product's output) -> rows [B * T, H * D].
  const toRows = (x: tf.Tensor, T: number) => tf.reshape(tf.transpose(tf.reshape(x, [T, B, H * D]), [1, 0, 2]), [B * T, H * D]) as tf.Tensor2D;
  // The bias as [Tq, B, H or 1, Tk], the scores' layout.
  const biasT = bias ? tf.transpose(bias, [2, 0, 1, 3]) : null;
  const f = customOp(([qs, ks, vs], save) => {
    const [value, probs, qRows, kRows, vT] = tf.tidy(() => {
      // scores [Tq, BH, Tk]: input q as [Tq, D, c], filter k as [D, c, Tk].
      let scores: tf.Tensor = tf.mul(product(layout(qs, Tq, [1, 3, 0, 2]), layout(ks, Tk, [3, 0, 2, 1]), Tq, D, Tk), scale);
      if (biasT) scores = tf.reshape(tf.add(tf.reshape(scores, [Tq, B, H, Tk]), biasT), [Tq, BH, Tk]);
      const p = tf.softmax(scores) as tf.Tensor3D;
      // context [Tq, c, D]: input p as [Tq, Tk, c], filter v as [Tk, c, D].
      const ctx = product(tf.transpose(p, [0, 2, 1]), layout(vs, Tk, [1, 0, 2, 3]), Tq, Tk, D);
      return [toRows(ctx, Tq), p, layout(qs, Tq, [1, 0, 2, 3]), layout(ks, Tk, [1, 0, 2, 3]), layout(vs, Tk, [3, 0, 2, 1])];
    });
    save([probs, qRows, kRows, vT]);
    return {
      value,
      gradFunc: (dy, [p, qF, kF, vTs]) => {
        // dp [Tq, c, Tk] = g . v^T: input g as [Tq, D, c], filter v as [D, c, Tk].
        const dp = product(layout(dy, Tq, [1, 3, 0, 2]), vTs, Tq, D, Tk);
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
        // dq [Tq, c, D] = ds . k: input ds as [Tq, Tk, c], filter k as [Tk, c, D].
        const dq = product(tf.transpose(ds, [0, 2, 1]), kF, Tq, Tk, D);
        // dk [Tk, c, D] = ds^T . q: input ds as [Tk, Tq, c], filter q as [Tq, c, D].
        const dk = product(tf.transpose(ds, [2, 0, 1]), qF, Tk, Tq, D);
        // dv [Tk, c, D] = p^T . g: input p as [Tk, Tq, c], filter g as [Tq, c, D].
        const dv = product(tf.transpose(p, [2, 0, 1]), layout(dy, Tq, [1, 0, 2, 3]), Tk, Tq, D);
        return [toRows(dq, Tq), toRows(dk, Tk), toRows(dv, Tk)];
      },
    };
  });
  try {
    return f(q, k, v) as tf.Tensor2D;
  } finally {
    biasT?.dispose();
  }
}
