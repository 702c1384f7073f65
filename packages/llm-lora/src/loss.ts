/**
 * The prefix-LM objective: `[prefix embeddings][instruction][answer][eos]`, cross-entropy on the
 * answer and eos tokens only. Rows are right-padded; padding is masked out of attention and loss.
 */
import * as tf from '@tensorflow/tfjs';
import { ops, type Rng } from '@mats/core';
import type { CausalLM } from './gpt2.js';

export interface PrefixLmExample {
  instruction: number[];
  answer: number[];
}

export interface PrefixLmBatch {
  /** Prefix length P (mapper outputs per row). */
  prefixLength: number;
  /** Text ids [batch, textLength]: instruction, answer, eos, then padding. */
  textIds: number[][];
  /** [batch, P + textLength]: 1 for prefix and text, 0 for padding. */
  attentionMask: number[][];
  /** Target id per text position, row-major [batch * textLength]. */
  targets: Int32Array;
  /** 1 where the target is an answer or eos token, else 0, [batch * textLength]. */
  lossWeights: Float32Array;
  /** Number of positions in the loss. */
  lossTokens: number;
}

/** Lays out a batch; `padId` fills the tail of shorter rows (it is never attended to). */
export function buildPrefixLmBatch(examples: PrefixLmExample[], prefixLength: number, eosId: number, padId = eosId): PrefixLmBatch {
  if (examples.length === 0) throw new Error('buildPrefixLmBatch: no examples');
  const rows = examples.map((e, i) => {
    if (e.answer.length === 0) throw new Error(`buildPrefixLmBatch: example ${i} has an empty answer`);
    return [...e.instruction, ...e.answer, eosId];
  });
  const textLength = Math.max(...rows.map((r) => r.length));
  const B = examples.length;
  const targets = new Int32Array(B * textLength);
  const lossWeights = new Float32Array(B * textLength);
  let lossTokens = 0;
  const textIds: number[][] = [];
  const attentionMask: number[][] = [];
  rows.forEach((row, b) => {
    const ids = row.concat(new Array(textLength - row.length).fill(padId));
    textIds.push(ids);
    attentionMask.push([...new Array(prefixLength + row.length).fill(1), ...new Array(textLength - row.length).fill(0)]);
    const answerStart = examples[b].instruction.length;
    for (let j = 0; j < textLength; j++) {
      targets[b * textLength + j] = ids[j];
      if (j >= answerStart && j < row.length) {
        lossWeights[b * textLength + j] = 1;
        lossTokens++;
      }
    }
  });
  return { prefixLength, textIds, attentionMask, targets, lossWeights, lossTokens };
}

/**
 * Weighted mean cross-entropy of logits [N, V] against integer targets (core's
 * ops.weightedCrossEntropy: the gradient is written out, no gather on the gradient path).
 */
export const weightedCrossEntropy: (logits: tf.Tensor2D, targets: Int32Array, weights: Float32Array, denominator?: number) => tf.Scalar = ops.weightedCrossEntropy;

export interface LossOptions {
  training?: boolean;
  rng?: Rng;
  /**
   * Divide the summed loss by this many tokens instead of the batch's own count: with gradient
   * accumulation over micro-batches, pass the whole batch's count so the sum of the micro-batch
   * losses (and gradients) equals the full batch's.
   */
  denominator?: number;
}

/**
 * The prefix-LM loss for a batch: prefix [batch, P, n_embd] (mapper output, may be trainable),
 * frozen token embeddings for the text. The transformer runs on the real (unpadded) positions only
 * (CausalLM.forwardRows), and the head and the loss on the positions that predict an answer or eos
 * token (the head is the costliest matmul of a large vocabulary, and no other position carries loss).
 */
export function prefixLmLoss(model: CausalLM, prefix: tf.Tensor3D, batch: PrefixLmBatch, options: LossOptions = {}): tf.Scalar {
  const [B, P] = prefix.shape;
  if (B !== batch.textIds.length) throw new Error(`prefixLmLoss: prefix has ${B} rows but the batch has ${batch.textIds.length}`);
  if (P !== batch.prefixLength) throw new Error(`prefixLmLoss: prefix has ${P} positions but the batch was built for ${batch.prefixLength}`);
  const L = batch.textIds[0].length;
  const T = P + L;
  // Position P + j - 1 predicts text token j (with no prefix, token 0 has no predictor).
  const rows: number[] = [];
  const targets: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let j = P > 0 ? 0 : 1; j < L; j++) {
      const w = batch.lossWeights[b * L + j];
      if (w === 0) continue;
      rows.push(b * T + P + j - 1);
      targets.push(batch.targets[b * L + j]);
      weights.push(w);
    }
  }
  if (rows.length === 0) throw new Error('prefixLmLoss: no position carries loss weight');
  return tf.tidy(() => {
    const text = model.embedTokens(batch.textIds);
    const inputs = P > 0 ? tf.concat([prefix, text], 1) : text;
    const h = model.forwardRows(inputs as tf.Tensor3D, batch.attentionMask, Int32Array.from(rows), { training: options.training, rng: options.rng });
    const t = Int32Array.from(targets);
    const w = Float32Array.from(weights);
    // Frozen head (MATS training): chunked head + loss, the [rows, vocab] logits never all exist.
    if (!model.wte.trainable) return ops.tiedHeadCrossEntropy(h, model.wte as tf.Tensor2D, t, w, options.denominator);
    return weightedCrossEntropy(model.lmHead(h) as tf.Tensor2D, t, w, options.denominator);
  });
}
