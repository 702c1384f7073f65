import * as tf from '@tensorflow/tfjs';
import { customOp, t2 } from './custom.js';

/** -ln of the smallest normal float32: the loss of a target probability that underflows to 0. */
const MIN_PROB = 1.1754944e-38;

function lossTotal(name: string, rows: number, targets: Int32Array, weights: Float32Array, denominator: number | undefined): number {
  if (targets.length !== rows || weights.length !== rows) throw new Error(`${name}: ${rows} rows but ${targets.length} targets and ${weights.length} weights`);
  let total = 0;
  for (const w of weights) total += w;
  if (denominator !== undefined) total = denominator;
  if (!(total > 0)) throw new Error(`${name}: no position carries loss weight (total weight ${total})`);
  return total;
}

/**
 * sum_i weight_i * CE(logits_i, target_i) / sum(weights) (or / `denominator`, for gradient
 * accumulation over micro-batches) for logits [N, V], with the gradient written out as
 * (softmax - onehot) * weight / total, so no gather sits on the gradient path.
 */
export function weightedCrossEntropy(logits: tf.Tensor2D, targets: Int32Array, weights: Float32Array, denominator?: number): tf.Scalar {
  const [N, V] = logits.shape;
  const total = lossTotal('weightedCrossEntropy', N, targets, weights, denominator);
  const f = customOp(([x], save) => {
    const [value, logSumExp] = tf.tidy(() => {
      const lse = tf.logSumExp(x, -1, true); // [N, 1]
      const flatIndex = tf.tensor1d(targets.map((t, i) => i * V + t), 'int32');
      const picked = tf.reshape(tf.gather(tf.reshape(x, [-1]), flatIndex), [N, 1]);
      return [tf.div(tf.sum(tf.mul(tf.sub(lse, picked), tf.tensor2d(weights, [N, 1]))), total), lse];
    });
    save([x, logSumExp]);
    return {
      value,
      gradFunc: (dy, [xs, lse]) => {
        const probs = tf.exp(tf.sub(xs, lse));
        const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), V);
        return [tf.mul(tf.sub(probs, oneHot), tf.mul(tf.tensor2d(weights, [N, 1]), tf.div(dy, total)))];
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** h [N, C] . table^T for a table [V, C], computed as (table . h^T)^T so the large table is the left operand. */
const headProduct = (h: tf.Tensor, table: tf.Tensor): tf.Tensor2D => t2(tf.matMul(table as tf.Tensor2D, t2(h)));

export interface TiedHeadOptions {
  /** No gradient to the table (default true: the MATS LLM is frozen). */
  frozen?: boolean;
}

/**
 * Logits of a tied LM head: h [N, C] . table^T for the token-embedding table [V, C], without a
 * transposed copy of the table (the product is (table . h^T)^T). Gradients dh = dy . table and,
 * unless frozen, dtable = dy^T . h.
 */
export function tiedHeadLogits(h: tf.Tensor2D, table: tf.Tensor2D, options: TiedHeadOptions = {}): tf.Tensor2D {
  if (options.frozen ?? true) {
    const f = customOp(([hs], save) => {
      save([table]);
      return { value: headProduct(hs, table), gradFunc: (dy, [ts]) => [tf.matMul(dy as tf.Tensor2D, ts as tf.Tensor2D)] };
    });
    return f(h) as tf.Tensor2D;
  }
  const f = customOp(([hs, ts], save) => {
    save([hs, ts]);
    return {
      value: headProduct(hs, ts),
      gradFunc: (dy, [h2, tab]) => [tf.matMul(dy as tf.Tensor2D, tab as tf.Tensor2D), tf.matMul(t2(dy), h2 as tf.Tensor2D)],
    };
  });
  return f(h, table) as tf.Tensor2D;
}

/** Logit values per chunk of the tied head kept at once (64 rows of GPT-2's 50257-token vocabulary). */
const HEAD_CHUNK_VALUES = 64 * 50257;

/**
 * weightedCrossEntropy(h . table^T, ...) for a frozen tied head (table [V, C]), in row chunks so the
 * [N, V] logits never exist at once: each chunk keeps only its softmax for the backward pass,
 * dh = (softmax - onehot) * weight / total . table. No transposed copy of the table is made. A
 * target probability that underflows to 0 in float32 contributes 87.3 nats. The loss is computed
 * with tensor ops (nothing is read). Chunks hold at most HEAD_CHUNK_VALUES logits by default
 * (64 rows at GPT-2's vocabulary, every row at once for a small vocabulary).
 */
export function tiedHeadCrossEntropy(h: tf.Tensor2D, table: tf.Tensor2D, targets: Int32Array, weights: Float32Array, denominator?: number, chunkRows?: number): tf.Scalar {
  const [N] = h.shape;
  const V = table.shape[0];
  if (table.shape[1] !== h.shape[1]) throw new Error(`tiedHeadCrossEntropy: hidden width ${h.shape[1]} but the table is [${table.shape.join(', ')}]`);
  const total = lossTotal('tiedHeadCrossEntropy', N, targets, weights, denominator);
  const chunk = chunkRows ?? Math.max(1, Math.floor(HEAD_CHUNK_VALUES / V));
  const starts: number[] = [];
  for (let s = 0; s < N; s += chunk) starts.push(s);
  const f = customOp(([input], save) => {
    const probsChunks: tf.Tensor[] = [];
    const lossParts: tf.Tensor[] = [];
    for (const s of starts) {
      const rows = Math.min(chunk, N - s);
      const probs = tf.tidy(() => tf.softmax(headProduct(rows === N ? input : tf.slice(input, [s, 0], [rows, -1]), table)));
      const index = new Int32Array(rows);
      for (let r = 0; r < rows; r++) index[r] = r * V + targets[s + r];
      lossParts.push(
        tf.tidy(() => {
          const picked = tf.gather(tf.reshape(probs, [-1]), tf.tensor1d(index, 'int32'));
          return tf.sum(tf.mul(tf.neg(tf.log(tf.maximum(picked, MIN_PROB))), tf.tensor1d(weights.subarray(s, s + rows))));
        }),
      );
      probsChunks.push(probs);
    }
    save([table, ...probsChunks]);
    tf.dispose(probsChunks); // save() holds its own references
    const value = tf.tidy(() => tf.div(lossParts.length === 1 ? lossParts[0] : tf.addN(lossParts), total));
    tf.dispose(lossParts);
    return {
      value,
      gradFunc: (dy, [tab, ...saved]) => {
        const scale = tf.div(dy, total);
        const parts = saved.map((p, c) => {
          const s = starts[c];
          const rows = p.shape[0] as number;
          const oneHot = tf.oneHot(tf.tensor1d(targets.subarray(s, s + rows), 'int32'), V);
          const w = tf.mul(tf.tensor2d(weights.subarray(s, s + rows), [rows, 1]), scale);
          return tf.matMul(tf.mul(tf.sub(p, oneHot), w) as tf.Tensor2D, tab as tf.Tensor2D);
        });
        return [parts.length === 1 ? parts[0] : tf.concat(parts, 0)];
      },
    };
  });
  return f(h) as tf.Scalar;
}
