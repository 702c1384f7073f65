import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom.js';

const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation (Hugging Face "gelu_new"): 0.5 x (1 + tanh(u)) computed as the same
 * function x * sigmoid(2u) (sigmoid is vectorised on wasm, tanh is not), with its derivative written
 * out. Keeps only x and the sigmoid for the backward pass.
 */
export function geluNew<T extends tf.Tensor>(x: T): T {
  const f = customOp(([input], save) => {
    const [value, s] = tf.tidy(() => {
      const sig = tf.sigmoid(tf.mul(input, tf.add(tf.mul(tf.square(input), GELU_C * GELU_A), GELU_C)));
      return [tf.mul(input, sig), sig];
    });
    save([input, s]);
    return {
      value,
      gradFunc: (dy, [xs, ss]) => {
        // d/dx [x s(v)] = s + x s (1 - s) v',  v' = C (1 + 3 A x^2)
        const dv = tf.add(tf.mul(tf.square(xs), 3 * GELU_C * GELU_A), GELU_C);
        return [tf.mul(dy, tf.add(ss, tf.mul(tf.mul(ss, tf.sub(1, ss)), tf.mul(xs, dv))))];
      },
    };
  });
  return f(x) as T;
}
