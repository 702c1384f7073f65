import * as tf from '@tensorflow/tfjs';

/** What a custom op's body returns: its value and the backward pass (one gradient per input). */
export interface CustomOp {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

/**
 * tf.customGrad with the inputs as an array, and a backward pass run inside tf.tidy: tfjs keeps the
 * intermediates of a custom gradient until the whole backward pass ends, so without the tidy every
 * transpose made there (e.g. of a frozen weight) would stay alive until the last layer's gradient.
 * Everything the backward pass reads must go through save() (tfjs keeps a reference, no copy).
 */
export function customOp(body: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => CustomOp): (...inputs: tf.Tensor[]) => tf.Tensor {
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { value, gradFunc } = body(args.slice(0, -1) as tf.Tensor[], save);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => gradFunc(dy, saved)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => (f as unknown as (...t: tf.Tensor[]) => tf.Tensor)(...inputs);
}

/** Plain transpose of a 2-D tensor (the explicit copy every flag-free backward product starts from). */
export const t2 = (x: tf.Tensor): tf.Tensor2D => tf.transpose(x as tf.Tensor2D);
