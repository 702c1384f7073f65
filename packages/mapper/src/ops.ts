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
 * x . w^T + b for w in PyTorch's [out, in] layout, where x is data, not a function of anything
 * trained: gradients go to w and b only (dx = dy . w would cost a pass over the largest weight).
 * The product is computed as (w . x^T)^T so that w is the kernel's left operand: the wasm matMul
 * packs (and caches, per tensor) its right operand, which here is the small x^T, so the large w is
 * never copied, and its gradient dy^T . x comes out directly in w's layout.
 */
export function linearConstantInput(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const f = tf.customGrad(((ws: tf.Tensor2D, bs: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
    save([x]);
    return {
      value: tf.add(tf.transpose(tf.matMul(ws, tf.transpose(x))), bs),
      gradFunc: (dy: tf.Tensor2D, [xs]: tf.Tensor[]) => [tf.matMul(tf.transpose(dy), xs), tf.sum(dy, 0)],
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
 * values (heads side by side in the columns: queries [batch * queryLength, width], keys and values
 * [batch * keyLength, width]) to the merged context [batch * queryLength, width], before the output
 * projection. Queries may cover only the last positions of the sequence (the mapper's last block
 * needs only the prefix positions). Keeps q, k^T, v and the attention weights for a hand-written
 * backward pass in which every product is flag-free.
 */
export function multiHeadAttention(q2: tf.Tensor2D, k2: tf.Tensor2D, v2: tf.Tensor2D, batch: number, heads: number): tf.Tensor2D {
  const B = batch;
  const H = heads;
  const C = q2.shape[1];
  const D = C / H;
  const Tq = q2.shape[0] / B;
  const Tk = k2.shape[0] / B;
  const scale = 1 / Math.sqrt(D);
  // [B*T, C] -> [B*H, T, D], or keys straight to [B*H, D, T]; rank-4 transposes are cheap on wasm.
  const toHeads = (t: tf.Tensor, T: number, transposed: boolean) =>
    tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, D]), transposed ? [0, 2, 3, 1] : [0, 2, 1, 3]), transposed ? [B * H, D, T] : [B * H, T, D]) as tf.Tensor3D;
  const fromHeads = (t: tf.Tensor, T: number, transposed: boolean) =>
    tf.reshape(tf.transpose(tf.reshape(t, transposed ? [B, H, D, T] : [B, H, T, D]), transposed ? [0, 3, 1, 2] : [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
  const f = tf.customGrad(((qs: tf.Tensor2D, ks: tf.Tensor2D, vs: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
    const q = toHeads(qs, Tq, false);
    const kT = toHeads(ks, Tk, true);
    const v = toHeads(vs, Tk, false);
    const probs = tf.softmax(tf.mul(tf.matMul(q, kT), scale)) as tf.Tensor3D;
    save([q, kT, v, probs]);
    return {
      value: fromHeads(tf.matMul(probs, v), Tq, false),
      gradFunc: (dy: tf.Tensor2D, [qh, kTh, vh, p]: tf.Tensor[]) => {
        const dContext = toHeads(dy, Tq, false);
        const dProbs = tf.matMul(dContext, tf.transpose(vh, [0, 2, 1]) as tf.Tensor3D);
        const dV = tf.matMul(tf.transpose(p, [0, 2, 1]) as tf.Tensor3D, dContext);
        // softmax backward, then the scale.
        const dScores = tf.mul(tf.mul(p, tf.sub(dProbs, tf.sum(tf.mul(dProbs, p), -1, true))), scale) as tf.Tensor3D;
        const dQ = tf.matMul(dScores, tf.transpose(kTh, [0, 2, 1]) as tf.Tensor3D);
        const dKT = tf.matMul(tf.transpose(qh, [0, 2, 1]) as tf.Tensor3D, dScores);
        return [fromHeads(dQ, Tq, false), fromHeads(dKT, Tk, true), fromHeads(dV, Tk, false)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor2D)(q2, k2, v2);
}
