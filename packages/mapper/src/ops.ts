import * as tf from '@tensorflow/tfjs';

/*
 * Matrix products with hand-written gradients. tfjs's own matMul gradient multiplies with the
 * `transposeA` / `transposeB` flags, and on the wasm backend those kernels are 10-20x slower than a
 * plain product (measured here: 640x768 . 768x2304 takes ~0.4 s plain, ~4-7 s with a flag), while
 * an explicit tf.transpose of either operand costs a few milliseconds. So every backward pass below
 * transposes explicitly and then multiplies without flags. Results are the same products.
 */

type Grad = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
const custom = (f: (...args: tf.Tensor[]) => { value: tf.Tensor; gradFunc: Grad }, inputs: number) =>
  tf.customGrad(((...args: unknown[]) => {
    const save = args[inputs] as (tensors: tf.Tensor[]) => void;
    const tensors = args.slice(0, inputs) as tf.Tensor[];
    save(tensors);
    return f(...tensors);
  }) as unknown as Parameters<typeof tf.customGrad>[0]);

/** x . w for 2-D x [n, in] and w [in, out]. */
export const matMul2d = custom(
  (x, w) => ({
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy, [x, w]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(w)), tf.matMul(tf.transpose(x), dy as tf.Tensor2D)],
  }),
  2,
) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

/** x . w + b (one fused kernel forward). */
export const linear = custom(
  (x, w, b) => ({
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }),
    gradFunc: (dy, [x, w]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(w)), tf.matMul(tf.transpose(x), dy as tf.Tensor2D), tf.sum(dy, 0)],
  }),
  3,
) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/** relu(x . w + b): fused forward; the backward masks dy with the saved output. */
export const linearRelu = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
  const y = tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' });
  save([x, w, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor2D, [xs, ws, ys]: tf.Tensor[]) => {
      const g = tf.mul(dy, tf.step(ys)) as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g), tf.sum(g, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/**
 * x . w + b where x is data, not a function of anything trained: gradients go to w and b only.
 * Skips dx = dy . w^T, which for the mapper's input layer (w is 1024 x 30720 at paper size) would
 * cost a transpose of the largest weight on every step.
 */
export function linearConstantInput(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const f = tf.customGrad(((ws: tf.Tensor2D, bs: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
    save([x]);
    return {
      value: tf.fused.matMul({ a: x, b: ws, bias: bs }),
      gradFunc: (dy: tf.Tensor2D, [xs]: tf.Tensor[]) => [tf.matMul(tf.transpose(xs), dy), tf.sum(dy, 0)],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D)(w, b);
}

/** x + y for same-shape tensors; unlike tf.add, the tape keeps neither input alive for the backward pass. */
export const residualAdd = tf.customGrad(((x: tf.Tensor, y: tf.Tensor) => ({
  value: tf.add(x, y),
  gradFunc: (dy: tf.Tensor) => [dy, dy],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D;

/**
 * nn.LayerNorm over the last axis of [n, c] (biased variance). The backward pass is written out so
 * that only the normalised input and 1/std are kept, instead of every intermediate of the formula.
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor2D {
  const f = tf.customGrad(((xs: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
    const mean = tf.mean(xs, -1, true);
    const centered = tf.sub(xs, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
    const normalised = tf.mul(centered, rstd);
    save([normalised, rstd, g]);
    return {
      value: tf.add(tf.mul(normalised, g), b),
      gradFunc: (dy: tf.Tensor2D, [xhat, r, gs]: tf.Tensor[]) => {
        const dxhat = tf.mul(dy, gs);
        const dx = tf.mul(r, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true))));
        return [dx, tf.sum(tf.mul(dy, xhat), 0), tf.sum(dy, 0)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor2D)(x, gamma, beta);
}

/**
 * Multi-head softmax attention of msclap's MultiHeadAttention, from the projected queries, keys and
 * values ([batch * seq, width] each, heads side by side in the columns) to the merged context
 * [batch * seq, width], before the output projection. Keeps q, k^T, v and the attention weights
 * for a hand-written backward pass in which every product is flag-free.
 */
export function multiHeadAttention(q2: tf.Tensor2D, k2: tf.Tensor2D, v2: tf.Tensor2D, batch: number, seq: number, heads: number): tf.Tensor2D {
  const B = batch;
  const T = seq;
  const H = heads;
  const C = q2.shape[1];
  const D = C / H;
  const scale = 1 / Math.sqrt(D);
  const toHeads = (t: tf.Tensor, perm: number[], shape: [number, number, number]) => tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, D]), perm), shape) as tf.Tensor3D;
  const fromHeads = (t: tf.Tensor, shape: number[], perm: number[]) => tf.reshape(tf.transpose(tf.reshape(t, shape), perm), [B * T, C]) as tf.Tensor2D;
  const f = tf.customGrad(((qs: tf.Tensor2D, ks: tf.Tensor2D, vs: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
    const q = toHeads(qs, [0, 2, 1, 3], [B * H, T, D]);
    const kT = toHeads(ks, [0, 2, 3, 1], [B * H, D, T]);
    const v = toHeads(vs, [0, 2, 1, 3], [B * H, T, D]);
    const probs = tf.softmax(tf.mul(tf.matMul(q, kT), scale)) as tf.Tensor3D;
    save([q, kT, v, probs]);
    return {
      value: fromHeads(tf.matMul(probs, v), [B, H, T, D], [0, 2, 1, 3]),
      gradFunc: (dy: tf.Tensor2D, [qh, kTh, vh, p]: tf.Tensor[]) => {
        const dContext = toHeads(dy, [0, 2, 1, 3], [B * H, T, D]);
        const dProbs = tf.matMul(dContext, tf.transpose(vh, [0, 2, 1]) as tf.Tensor3D);
        const dV = tf.matMul(tf.transpose(p, [0, 2, 1]) as tf.Tensor3D, dContext);
        // softmax backward, then the scale.
        const dScores = tf.mul(tf.mul(p, tf.sub(dProbs, tf.sum(tf.mul(dProbs, p), -1, true))), scale) as tf.Tensor3D;
        const dQ = tf.matMul(dScores, tf.transpose(kTh, [0, 2, 1]) as tf.Tensor3D);
        const dKT = tf.matMul(tf.transpose(qh, [0, 2, 1]) as tf.Tensor3D, dScores);
        return [fromHeads(dQ, [B, H, T, D], [0, 2, 1, 3]), fromHeads(dKT, [B, H, D, T], [0, 3, 1, 2]), fromHeads(dV, [B, H, T, D], [0, 2, 1, 3])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor2D)(q2, k2, v2);
}
