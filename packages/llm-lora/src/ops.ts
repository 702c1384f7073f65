/**
 * Differentiable building blocks with gradients written out so that every matmul on the wasm
 * backend is a plain (non-transposed) product, the layout XNNPack is fast at. Measured here
 * (bench/llm-lora.bench.ts notes): a transposed-operand matMul is ~10x slower than a plain one,
 * tanh and exp ~10x slower than sigmoid and softmax.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * x @ W + b for a frozen W [in, out]; `weightT` is W transposed, kept by the caller, so the input
 * gradient dy @ W^T is a plain matmul. No gradient flows to W or b.
 */
export function frozenLinear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | null, weightT: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad(((input: tf.Tensor2D) => ({
    value: bias ? tf.fused.matMul({ a: input, b: weight, bias }) : tf.matMul(input, weight),
    gradFunc: (dy: tf.Tensor2D) => tf.matMul(dy, weightT),
  })) as any);
  return f(x) as tf.Tensor2D;
}

/** x @ W (+ b) with gradients for x, W (and b), each a plain matmul after one explicit transpose. */
export function trainableLinear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
  const f = tf.customGrad(((input: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([input, w]);
    return {
      value: tf.matMul(input, w),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as tf.Tensor2D[];
        return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
      },
    };
  }) as any);
  const product = f(x, weight) as tf.Tensor2D;
  return bias ? tf.add(product, bias) : product;
}

const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation ("gelu_new"): 0.5 x (1 + tanh(u)) written as x * sigmoid(2u) (the same
 * function; sigmoid is vectorised on wasm, tanh is not), with its derivative written out. Keeps
 * only x and the sigmoid for the backward pass.
 */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [value, s] = tf.tidy(() => {
      const inner = tf.mul(input, tf.add(tf.mul(tf.square(input), GELU_C * GELU_A), GELU_C));
      const sig = tf.sigmoid(inner);
      return [tf.mul(input, sig), sig];
    });
    save([input, s]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ss] = saved;
        // d/dx [x s(v)] = s + x s (1 - s) v',  v' = C (1 + 3 A x^2)
        const dv = tf.add(tf.mul(tf.square(xs), 3 * GELU_C * GELU_A), GELU_C);
        const ds = tf.mul(tf.mul(ss, tf.sub(1, ss)), tf.mul(xs, dv));
        return tf.mul(dy, tf.add(ss, ds));
      },
    };
  }) as any);
  return f(x) as tf.Tensor;
}

/**
 * LayerNorm over the last axis of [N, C]; keeps only the normalised input and 1/std for backward.
 * With `trainable`, gradients also flow to weight and bias.
 */
export function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number, trainable: boolean): tf.Tensor2D {
  const forward = (input: tf.Tensor2D) =>
    tf.tidy(() => {
      const mean = tf.mean(input, -1, true);
      const centred = tf.sub(input, mean);
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
      const xhat = tf.mul(centred, rstd);
      return [tf.add(tf.mul(xhat, weight), bias), xhat, rstd] as tf.Tensor2D[];
    });
  const inputGrad = (dy: tf.Tensor2D, xhat: tf.Tensor2D, rstd: tf.Tensor2D) => {
    const dxhat = tf.mul(dy, weight);
    const meanD = tf.mean(dxhat, -1, true);
    const meanDX = tf.mean(tf.mul(dxhat, xhat), -1, true);
    return tf.mul(tf.sub(tf.sub(dxhat, meanD), tf.mul(xhat, meanDX)), rstd);
  };
  if (!trainable) {
    const f = tf.customGrad(((input: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const [value, xhat, rstd] = forward(input);
      save([xhat, rstd]);
      return { value, gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => inputGrad(dy, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D) };
    }) as any);
    return f(x) as tf.Tensor2D;
  }
  const f = tf.customGrad(((input: tf.Tensor2D, _w: tf.Tensor1D, _b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [value, xhat, rstd] = forward(input);
    save([xhat, rstd]);
    return {
      value,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xhat2, rstd2] = saved as tf.Tensor2D[];
        return [inputGrad(dy, xhat2, rstd2), tf.sum(tf.mul(dy, xhat2), 0), tf.sum(dy, 0)];
      },
    };
  }) as any);
  return f(x, weight, bias) as tf.Tensor2D;
}

/**
 * softmax(q k^T * scale + bias) v for q, k, v [B, H, T, D] and an additive bias [B, 1, Tq, Tk];
 * keeps q, k, v and the probabilities for backward.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D {
  const f = tf.customGrad(((qs: tf.Tensor4D, ks: tf.Tensor4D, vs: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const [value, probs] = tf.tidy(() => {
      const p = tf.softmax(tf.add(tf.mul(tf.matMul(qs, ks, false, true), scale), bias));
      return [tf.matMul(p, vs), p];
    });
    save([qs, ks, vs, probs]);
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [q2, k2, v2, p] = saved as tf.Tensor4D[];
        const dp = tf.matMul(dy, v2, false, true);
        const dv = tf.matMul(p, dy, true, false);
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
        return [tf.matMul(ds, k2), tf.matMul(ds, q2, true, false), dv];
      },
    };
  }) as any);
  return f(q, k, v) as tf.Tensor4D;
}

/**
 * A frozen Conv1D plus LoRA in one differentiable op:
 * y = x W + b + scaling * ((x * mask) A) B, gradients for x, A [in, r] and B [r, out].
 * `mask` is the dropout mask already scaled by 1 / (1 - p), or null. Keeps x*mask and xA.
 */
export function loraLinear(
  x: tf.Tensor2D,
  loraA: tf.Tensor2D,
  loraB: tf.Tensor2D,
  base: { weight: tf.Tensor2D; bias: tf.Tensor1D; weightT: tf.Tensor2D },
  scaling: number,
  mask: tf.Tensor2D | null,
): tf.Tensor2D {
  const f = tf.customGrad(((input: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const [value, dropped, low] = tf.tidy(() => {
      const xd = mask ? tf.mul(input, mask) : tf.clone(input);
      const lowS = tf.mul(tf.matMul(xd, a), scaling);
      const y = tf.add(tf.fused.matMul({ a: input, b: base.weight, bias: base.bias }), tf.matMul(lowS, b));
      return [y, xd, lowS] as tf.Tensor2D[];
    });
    // Everything the backward pass reads goes through save(): closed-over tensors would already be
    // disposed by the caller's tidy when gradients run.
    save(mask ? [dropped, low, a, b, mask] : [dropped, low, a, b]);
    return {
      value,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xd, lowS, a2, b2, savedMask] = saved as tf.Tensor2D[];
        const dLowS = tf.matMul(dy, tf.transpose(b2)); // [N, r]
        const dB = tf.matMul(tf.transpose(lowS), dy);
        const dLow = tf.mul(dLowS, scaling);
        const dA = tf.matMul(tf.transpose(xd), dLow);
        let dxLora = tf.matMul(dLow, tf.transpose(a2));
        if (savedMask) dxLora = tf.mul(dxLora, savedMask);
        return [tf.add(tf.matMul(dy, base.weightT), dxLora), dA, dB];
      },
    };
  }) as any);
  return f(x, loraA, loraB) as tf.Tensor2D;
}

/**
 * Mean weighted cross-entropy of a frozen tied head, logits = h @ W (W = wte^T [C, V]), computed in
 * row chunks so the [N, V] logits never exist at once: each chunk keeps only its softmax for the
 * backward pass, dh = (softmax - onehot) * weight / sum(weights) @ W^T. A target probability that
 * underflows to 0 in float32 contributes 87.3 nats (-ln of the smallest normal float).
 */
export function frozenHeadCrossEntropy(h: tf.Tensor2D, headT: tf.Tensor2D, head: tf.Tensor2D, targets: Int32Array, weights: Float32Array, denominator?: number, chunkRows = 64): tf.Scalar {
  const [N] = h.shape;
  const V = headT.shape[1];
  let total = 0;
  for (const w of weights) total += w;
  if (denominator !== undefined) total = denominator;
  if (total <= 0) throw new Error('frozenHeadCrossEntropy: no position carries loss weight');
  const starts: number[] = [];
  for (let s = 0; s < N; s += chunkRows) starts.push(s);
  const f = tf.customGrad(((input: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const probsChunks: tf.Tensor2D[] = [];
    let lossSum = 0;
    for (const s of starts) {
      const rows = Math.min(chunkRows, N - s);
      const probs = tf.tidy(() => tf.softmax(tf.matMul(tf.slice(input, [s, 0], [rows, -1]), headT)) as tf.Tensor2D);
      const index = new Int32Array(rows);
      for (let r = 0; r < rows; r++) index[r] = r * V + targets[s + r];
      const picked = tf.tidy(() => tf.gather(tf.reshape(probs, [-1]), tf.tensor1d(index, 'int32')).dataSync() as Float32Array);
      for (let r = 0; r < rows; r++) if (weights[s + r] !== 0) lossSum += -Math.log(Math.max(picked[r], 1.1754944e-38)) * weights[s + r];
      probsChunks.push(probs);
    }
    save(probsChunks);
    return {
      value: tf.scalar(lossSum / total),
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const scale = tf.div(dy, total);
        const parts = saved.map((p, c) => {
          const s = starts[c];
          const rows = p.shape[0] as number;
          const oneHot = tf.oneHot(tf.tensor1d(targets.subarray(s, s + rows), 'int32'), V);
          const w = tf.mul(tf.tensor2d(weights.subarray(s, s + rows), [rows, 1]), scale);
          return tf.matMul(tf.mul(tf.sub(p, oneHot), w) as tf.Tensor2D, head);
        });
        return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
      },
    };
  }) as any);
  return f(h) as tf.Scalar;
}
