import * as tf from '@tensorflow/tfjs';
import { Rng, ops } from '@mats/core';

/**
 * The tiny CLAP of the synthetic world, as data: everything needed to rebuild the model is in
 * config.json; the weights are in model.safetensors under the names of `parameterShapes`.
 */
export interface TinyClapConfig {
  format: 'mats-tiny-clap';
  version: 1;
  /** Audio is resampled to this rate, mean-downmixed, and tiled / cropped to clipSeconds. */
  sampleRate: number;
  clipSeconds: number;
  mel: { nFft: number; hopLength: number; nMels: number; fmin: number; fmax: number; amin: number };
  /**
   * Audio encoder: a 1-D convolution over normalised mel frames (stride 2), a residual frame MLP, and
   * pooling over time (mean, standard deviation, and first-half minus second-half mean, which keeps
   * event order).
   */
  audio: { channels: number; kernel: number };
  /** Text encoder: word embeddings + positions, one residual 1-D convolution, masked mean+max pooling. */
  text: { width: number; maxLength: number; kernel: number };
  /** Joint space dimension. */
  dim: number;
  /** Word vocabulary (id = index); "<pad>" and "<unk>" first. */
  vocab: string[];
}

export const DEFAULT_TINY_CONFIG: Omit<TinyClapConfig, 'vocab'> = {
  format: 'mats-tiny-clap',
  version: 1,
  sampleRate: 16000,
  clipSeconds: 2,
  mel: { nFft: 512, hopLength: 256, nMels: 64, fmin: 0, fmax: 8000, amin: 1e-10 },
  audio: { channels: 128, kernel: 3 },
  text: { width: 128, maxLength: 32, kernel: 3 },
  dim: 256,
};

/** Every tensor of the model and its shape (tfjs layouts: dense weights [in, out], conv1d [kernel, in, out]). */
export function parameterShapes(c: TinyClapConfig): Record<string, number[]> {
  const { nMels } = c.mel;
  const { channels: ch, kernel: ka } = c.audio;
  const { width: w, maxLength, kernel: kt } = c.text;
  const d = c.dim;
  return {
    'audio.mel_mean': [nMels],
    'audio.mel_std': [nMels],
    'audio.conv1.weight': [ka, nMels, ch],
    'audio.conv1.bias': [ch],
    'audio.frame_mlp.weight': [ch, ch],
    'audio.frame_mlp.bias': [ch],
    'audio.projection.linear1.weight': [3 * ch, d],
    'audio.projection.linear2.weight': [d, d],
    'audio.projection.layer_norm.weight': [d],
    'audio.projection.layer_norm.bias': [d],
    'text.embed.weight': [c.vocab.length, w],
    'text.pos': [maxLength, w],
    'text.conv.weight': [kt, w, w],
    'text.conv.bias': [w],
    'text.projection.linear1.weight': [2 * w, d],
    'text.projection.linear2.weight': [d, d],
    'text.projection.layer_norm.weight': [d],
    'text.projection.layer_norm.bias': [d],
    logit_scale: [],
  };
}

/** Tensors that training does not update (the mel normalisation statistics). */
export const FROZEN = new Set(['audio.mel_mean', 'audio.mel_std']);

/** Seeded initial values: Glorot-normal weights, zero biases, LayerNorm 1/0, logit scale ln(1/0.07) as CLIP. */
export function initialParameters(c: TinyClapConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(`tiny-clap/${seed}`);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of Object.entries(parameterShapes(c))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    if (name === 'logit_scale') v[0] = Math.log(1 / 0.07);
    else if (name.endsWith('layer_norm.weight') || name === 'audio.mel_std') v.fill(1);
    else if (name.endsWith('.weight') || name === 'text.pos') {
      const fanIn = shape.length === 3 ? shape[0] * shape[1] : shape[0];
      const fanOut = shape.length === 3 ? shape[0] * shape[2] : shape[shape.length - 1];
      const std = name === 'text.embed.weight' || name === 'text.pos' ? 0.1 : Math.sqrt(2 / (fanIn + fanOut));
      rng.fillNormal(v, 0, std);
    }
    out.set(name, v);
  }
  return out;
}

export type Params = Map<string, tf.Variable | tf.Tensor>;

function p(params: Params, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`TinyClap: missing parameter "${name}"`);
  return t;
}

/** LayerNorm over the last axis (the shared op; gradients to x, gamma and beta). */
function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor2D {
  return ops.layerNorm(x as tf.Tensor2D, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps);
}

/** msclap's projection head: linear1, GELU, linear2, residual, LayerNorm (no dropout at our size). */
function projection(x: tf.Tensor, params: Params, prefix: string): tf.Tensor2D {
  const e1 = dense(x, p(params, `${prefix}.linear1.weight`));
  const e2 = dense(ops.geluNew(e1), p(params, `${prefix}.linear2.weight`));
  return layerNorm(e1.add(e2), p(params, `${prefix}.layer_norm.weight`), p(params, `${prefix}.layer_norm.bias`));
}

/**
 * A dense layer over the last axis of a 2-D or 3-D tensor (a conv filter [kernel, in, out] is used
 * as [kernel * in, out]): the op layer's linear, whose gradients are flag-free products (the wasm
 * backend's matmul is about ten times slower with transposeA / transposeB).
 */
export function dense(x: tf.Tensor, w: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const outDim = w.shape[w.shape.length - 1];
  const y = ops.linear(x.reshape([-1, inDim]) as tf.Tensor2D, w.reshape([-1, outDim]) as tf.Tensor2D, (bias as tf.Tensor1D | undefined) ?? null);
  return y.reshape([...x.shape.slice(0, -1), outDim]);
}

/**
 * The input of the audio encoder's strided convolution, built once on the CPU (it needs no gradient):
 * normalised mel frames [count, frames, nMels] -> columns [count, ceil(frames / 2), kernel * nMels],
 * output frame t covering input frames 2t - left .. 2t - left + kernel - 1 (zero outside).
 */
export function audioColumns(mel: Float32Array, count: number, frames: number, nMels: number, kernel: number, mean: Float32Array, std: Float32Array): Float32Array {
  const outFrames = Math.ceil(frames / 2);
  const width = kernel * nMels;
  const left = Math.floor((kernel - 1) / 2);
  const out = new Float32Array(count * outFrames * width);
  for (let c = 0; c < count; c++) {
    for (let t = 0; t < outFrames; t++) {
      const rowBase = (c * outFrames + t) * width;
      for (let o = 0; o < kernel; o++) {
        const src = 2 * t - left + o;
        if (src < 0 || src >= frames) continue;
        const inBase = (c * frames + src) * nMels;
        for (let m = 0; m < nMels; m++) out[rowBase + o * nMels + m] = (mel[inBase + m] - mean[m]) / std[m];
      }
    }
  }
  return out;
}

/** Raw audio embeddings [B, dim] from audioColumns [B, ceil(frames / 2), kernel * nMels]. */
export function audioForward(params: Params, columns: tf.Tensor3D): tf.Tensor2D {
  const h1 = tf.relu(dense(columns, p(params, 'audio.conv1.weight'), p(params, 'audio.conv1.bias')));
  const h2 = tf.relu(dense(h1, p(params, 'audio.frame_mlp.weight'), p(params, 'audio.frame_mlp.bias'))).add(h1) as tf.Tensor3D;
  const [b, t, c] = h2.shape;
  const half = Math.floor(t / 2);
  const order = h2.slice([0, 0, 0], [b, half, c]).mean(1).sub(h2.slice([0, t - half, 0], [b, half, c]).mean(1));
  // Statistics pooling (mean, standard deviation) instead of max: tfjs's max gradient is slow on wasm.
  const mean = h2.mean(1);
  const std = h2.square().mean(1).sub(mean.square()).relu().add(1e-6).sqrt();
  const pooled = tf.concat([mean, std, order], 1) as tf.Tensor2D;
  return projection(pooled, params, 'audio.projection');
}

/** A 'same' 1-D convolution over token positions as shifted copies + one matmul (wasm cannot train tf.conv1d). */
function textConv(x: tf.Tensor3D, filter: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const [b, t, c] = x.shape;
  const k = filter.shape[0];
  const left = Math.floor((k - 1) / 2);
  const padded = tf.pad(x, [
    [0, 0],
    [left, k - 1 - left],
    [0, 0],
  ]);
  const columns = tf.concat(Array.from({ length: k }, (_, o) => padded.slice([0, o, 0], [b, t, c])), 2);
  return dense(columns, filter, bias);
}

/**
 * Raw text embeddings [B, dim] from ids [B, maxLength] (0 = pad) and a float mask [B, maxLength].
 * The embedding lookup is a one-hot matmul: the wasm backend has no gradient for gather.
 */
export function textForward(params: Params, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const [b, len] = ids.shape;
  const embed = p(params, 'text.embed.weight') as tf.Tensor2D;
  const oneHot = tf.oneHot(ids.reshape([b * len]) as tf.Tensor1D, embed.shape[0]) as tf.Tensor2D;
  const x = dense(oneHot.toFloat(), embed).reshape([b, len, embed.shape[1]]).add(p(params, 'text.pos')) as tf.Tensor3D;
  const h = tf.relu(textConv(x, p(params, 'text.conv.weight'), p(params, 'text.conv.bias'))).add(x) as tf.Tensor3D;
  const m = mask.expandDims(2);
  const mean = h.mul(m).sum(1).div(m.sum(1));
  const max = h.add(m.sub(1).mul(1e9)).max(1);
  return projection(tf.concat([mean, max], 1) as tf.Tensor2D, params, 'text.projection');
}

/** Symmetric InfoNCE of CLIP/CLAP: cross-entropy both ways over exp(logit_scale) * cosine similarities. */
export function contrastiveLoss(audio: tf.Tensor2D, text: tf.Tensor2D, logitScale: tf.Tensor): tf.Scalar {
  const a = audio.div(audio.norm('euclidean', 1, true));
  const t = text.div(text.norm('euclidean', 1, true));
  // Clamp the learnable temperature at 100 as CLIP does, so it cannot run away.
  const scale = tf.minimum(logitScale, Math.log(100)).exp();
  const logits = tf.matMul(a, t, false, true).mul(scale) as tf.Tensor2D;
  const labels = tf.oneHot(tf.range(0, audio.shape[0], 1, 'int32') as tf.Tensor1D, audio.shape[0]);
  const lossA = tf.losses.softmaxCrossEntropy(labels, logits);
  const lossT = tf.losses.softmaxCrossEntropy(labels, logits.transpose());
  return lossA.add(lossT).div(2) as tf.Scalar;
}
