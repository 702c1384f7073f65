import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom.js';

export interface LayerNormOptions {
  /** Gradients also to gamma and beta (default true); false: only to x. */
  trainable?: boolean;
}

/**
 * nn.LayerNorm over the last axis of [n, c] (biased variance, eps inside the square root). The
 * backward pass is written out, so only the normalised input and 1/std are kept for it.
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, options: LayerNormOptions = {}): tf.Tensor2D {
  const trainable = options.trainable ?? true;
  const forward = (input: tf.Tensor) =>
    tf.tidy(() => {
      const centred = tf.sub(input, tf.mean(input, -1, true));
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
      const xhat = tf.mul(centred, rstd);
      return [tf.add(tf.mul(xhat, gamma), beta), xhat, rstd];
    });
  const inputGrad = (dy: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor, g: tf.Tensor) => {
    const dxhat = tf.mul(dy, g);
    return tf.mul(tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true))), rstd);
  };
  if (!trainable) {
    const f = customOp(([input], save) => {
      const [value, xhat, rstd] = forward(input);
      save([xhat, rstd, gamma]);
      return { value, gradFunc: (dy, [xh, r, g]) => [inputGrad(dy, xh, r, g)] };
    });
    return f(x) as tf.Tensor2D;
  }
  const f = customOp(([input, g], save) => {
    const [value, xhat, rstd] = forward(input);
    save([xhat, rstd, g]);
    return {
      value,
      gradFunc: (dy, [xh, r, gs]) => [inputGrad(dy, xh, r, gs), tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)],
    };
  });
  return f(x, gamma, beta) as tf.Tensor2D;
}
