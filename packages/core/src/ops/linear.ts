import * as tf from '@tensorflow/tfjs';
import { customOp, t2 } from './custom.js';

/*
 * Every product in the backward passes below is a plain matMul after an explicit tf.transpose: on
 * the wasm backend tfjs's own matMul gradient (transposeA / transposeB flags) is 10-30x slower than
 * a transpose plus a plain product (640x768 . 768x2304: ~0.4 s plain, 4-7 s with a flag).
 */

export interface LinearOptions {
  /** relu(x . w + b), fused forward; the backward masks dy with the saved output. */
  relu?: boolean;
  /**
   * No gradient to w and b (a frozen weight): only dx = dy . w^T, with w^T made inside the backward
   * pass and freed there, so a frozen model holds each weight once (no cached transpose).
   */
  frozen?: boolean;
  /**
   * With `frozen`: w^T kept by the caller (a small model's cache), used by the backward pass
   * instead of a transpose made there (saves the transpose and XNNPACK's repacking of it each step).
   */
  weightT?: tf.Tensor2D | null;
}

/** x [n, in] . w [in, out] (+ bias [out]) (then relu), with hand-written flag-free gradients. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | null = null, options: LinearOptions = {}): tf.Tensor2D {
  const relu = options.relu ?? false;
  const forward = (xs: tf.Tensor2D, ws: tf.Tensor2D) =>
    bias || relu ? tf.fused.matMul({ a: xs, b: ws, bias: bias ?? undefined, activation: relu ? 'relu' : 'linear' }) : tf.matMul(xs, ws);
  // dy through the relu: zero where the output was clipped.
  const through = (dy: tf.Tensor, y: tf.Tensor | undefined) => (y ? tf.mul(dy, tf.step(y)) : dy) as tf.Tensor2D;
  if (options.frozen) {
    const weightT = options.weightT ?? null;
    const f = customOp(([xs], save) => {
      const y = forward(xs as tf.Tensor2D, w);
      save(relu ? [w, y] : [w]);
      return { value: y, gradFunc: (dy, [ws, ys]) => [tf.matMul(through(dy, ys), weightT ?? t2(ws))] };
    });
    return f(x) as tf.Tensor2D;
  }
  const f = customOp(([xs, ws], save) => {
    const y = forward(xs as tf.Tensor2D, ws as tf.Tensor2D);
    save(relu ? [xs, ws, y] : [xs, ws]);
    return {
      value: y,
      gradFunc: (dy, [x2, w2, ys]) => {
        const g = through(dy, ys);
        const grads = [tf.matMul(g, t2(w2)), tf.matMul(t2(x2), g)];
        return bias ? [...grads, tf.sum(g, 0)] : grads;
      },
    };
  });
  return (bias ? f(x, w, bias) : f(x, w)) as tf.Tensor2D;
}

/**
 * x . w^T + b for w in PyTorch's [out, in] layout, where x is data, not a function of anything
 * trained: gradients go to w and b only (dx = dy . w would cost a pass over the largest weight).
 * The product is computed as (w . x^T)^T so that w is the kernel's left operand: the wasm matMul
 * packs (and caches, per tensor) its right operand, which here is the small x^T, so the large w is
 * never copied, and its gradient dy^T . x comes out directly in w's layout.
 */
export function linearConstantInput(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const f = customOp(([ws, bs], save) => {
    save([x]);
    return {
      value: tf.add(t2(tf.matMul(ws as tf.Tensor2D, t2(x))), bs),
      gradFunc: (dy, [xs]) => [tf.matMul(t2(dy), xs as tf.Tensor2D), tf.sum(dy, 0)],
    };
  });
  return f(w, b) as tf.Tensor2D;
}

/** x + y for same-shape tensors; unlike tf.add, the tape keeps neither input alive for the backward pass. */
export function residualAdd<T extends tf.Tensor>(x: T, y: T): T {
  const f = customOp(([a, b]) => ({ value: tf.add(a, b), gradFunc: (dy) => [dy, tf.clone(dy)] }));
  return f(x, y) as T;
}

/**
 * A frozen linear plus LoRA in one op (PEFT's lora.Linear in train mode):
 * y = x W + b + scaling * ((x * mask) A) B with W [in, out] and b frozen, A [in, r], B [r, out].
 * Gradients for x, A and B. `mask` is the dropout mask already scaled by 1 / (1 - p), or null.
 * Keeps x * mask and the scaled x A; W^T is made inside the backward pass unless the caller keeps
 * it (`weightT`, as LinearOptions.weightT).
 */
export function loraLinear(
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D | null,
  loraA: tf.Tensor2D,
  loraB: tf.Tensor2D,
  scaling: number,
  mask: tf.Tensor2D | null = null,
  weightT: tf.Tensor2D | null = null,
): tf.Tensor2D {
  const f = customOp(([input, a, b], save) => {
    const [value, dropped, low] = tf.tidy(() => {
      const xd = mask ? tf.mul(input, mask) : tf.clone(input);
      const lowS = tf.mul(tf.matMul(xd as tf.Tensor2D, a as tf.Tensor2D), scaling);
      const base = bias ? tf.fused.matMul({ a: input as tf.Tensor2D, b: weight, bias }) : tf.matMul(input as tf.Tensor2D, weight);
      return [tf.add(base, tf.matMul(lowS as tf.Tensor2D, b as tf.Tensor2D)), xd, lowS];
    });
    save(mask ? [dropped, low, a, b, weight, mask] : [dropped, low, a, b, weight]);
    return {
      value,
      gradFunc: (dy, [xd, lowS, a2, b2, w2, savedMask]) => {
        const g = dy as tf.Tensor2D;
        const dB = tf.matMul(t2(lowS), g);
        const dLow = tf.mul(tf.matMul(g, t2(b2)), scaling) as tf.Tensor2D; // [N, r]
        const dA = tf.matMul(t2(xd), dLow);
        let dxLora: tf.Tensor = tf.matMul(dLow, t2(a2));
        if (savedMask) dxLora = tf.mul(dxLora, savedMask);
        return [tf.add(tf.matMul(g, weightT ?? t2(w2)), dxLora), dA, dB];
      },
    };
  });
  return f(x, loraA, loraB) as tf.Tensor2D;
}
