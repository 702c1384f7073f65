/**
 * Full-parameter causal-LM training (the tiny world LM). The token table is trained through a
 * one-hot matmul, because the gradient of gather (UnsortedSegmentSum) is missing on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './gpt2.js';
import { weightedCrossEntropy } from './loss.js';

/** Token embeddings as onehot(ids) @ wte, differentiable w.r.t. wte on every backend. */
export function embedTokensOneHot(model: CausalLM, ids: number[][]): tf.Tensor3D {
  const B = ids.length;
  const T = ids[0].length;
  const flat = new Int32Array(B * T);
  ids.forEach((row, b) => {
    if (row.length !== T) throw new Error(`embedTokensOneHot: row ${b} has ${row.length} ids, expected ${T}`);
    flat.set(row, b * T);
  });
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.tensor1d(flat, 'int32'), model.config.vocabSize).toFloat() as tf.Tensor2D;
    return tf.reshape(tf.matMul(oneHot, model.wte as tf.Tensor2D), [B, T, model.config.nEmbd]) as tf.Tensor3D;
  });
}

/** Right-pads token rows; returns ids, attention mask and per-position next-token weights. */
export function padRows(rows: number[][], padId: number): { ids: number[][]; mask: number[][] } {
  const T = Math.max(...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => r.concat(new Array(T - r.length).fill(padId))),
    mask: rows.map((r) => [...new Array(r.length).fill(1), ...new Array(T - r.length).fill(0)]),
  };
}

/** Mean next-token cross-entropy over the real (unpadded) tokens of right-padded rows. */
export function languageModelLoss(model: CausalLM, rows: number[][], padId: number): tf.Scalar {
  const { ids, mask } = padRows(rows, padId);
  const B = ids.length;
  const T = ids[0].length;
  if (T < 2) throw new Error('languageModelLoss: rows need at least 2 tokens');
  const targets = new Int32Array(B * (T - 1));
  const weights = new Float32Array(B * (T - 1));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      targets[b * (T - 1) + t] = ids[b][t + 1];
      weights[b * (T - 1) + t] = mask[b][t + 1];
    }
  }
  return tf.tidy(() => {
    const emb = embedTokensOneHot(model, ids);
    const { hidden } = model.forward(emb, { attentionMask: mask, training: true });
    const h = tf.reshape(tf.slice(hidden, [0, 0, 0], [B, T - 1, model.config.nEmbd]), [-1, model.config.nEmbd]);
    return weightedCrossEntropy(model.lmHead(h) as tf.Tensor2D, targets, weights);
  });
}
