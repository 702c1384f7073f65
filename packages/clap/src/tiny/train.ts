import * as tf from '@tensorflow/tfjs';
import { Rng, createProgress } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { TinyClap } from './tiny-clap.js';
import { WordTokenizer } from './tokenizer.js';
import { DEFAULT_TINY_CONFIG, FROZEN, audioColumns, contrastiveLoss, audioForward, textForward, initialParameters, parameterShapes, type Params, type TinyClapConfig } from './model.js';
import { ZERO_SHOT_TEMPLATE } from '../zero-shot.js';

export interface TrainingPair {
  clip: AudioClip;
  caption: string;
  /** Event labels of the clip; used for label-prompt captions (see labelPromptRate). */
  labels?: string[];
}

export interface TinyClapTrainOptions {
  /** Overrides of DEFAULT_TINY_CONFIG (the vocabulary is built from the data). */
  config?: Partial<Omit<TinyClapConfig, 'vocab' | 'format' | 'version'>>;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /**
   * Fraction of pairs whose caption is replaced, per step, by the label prompt
   * `This is a sound of {labels joined by ", "}.` (as CLAP pretraining mixes in captions made from
   * classification labels). Default 0.25; 0 trains on the captions only.
   */
  labelPromptRate?: number;
  /** Extra texts whose words join the vocabulary (e.g. evaluation labels). */
  extraVocabularyTexts?: string[];
  /** Called after every epoch. */
  onEpoch?: (info: EpochInfo) => void;
  /** Progress bar / log lines (default: as createProgress decides). */
  progress?: 'bar' | 'log' | 'silent';
}

export interface EpochInfo {
  epoch: number;
  loss: number;
  logitScale: number;
  seconds: number;
}

/** Builds the model's input for one batch of pairs. */
function textBatch(tokenizer: WordTokenizer, texts: string[], maxLength: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const { ids, lengths } = tokenizer.encodeBatch(texts, maxLength);
  const mask = new Float32Array(texts.length * maxLength);
  for (let r = 0; r < texts.length; r++) mask.fill(1, r * maxLength, r * maxLength + lengths[r]);
  return { ids: tf.tensor2d(ids, [texts.length, maxLength], 'int32'), mask: tf.tensor2d(mask, [texts.length, maxLength]) };
}

/**
 * Contrastive (InfoNCE, learnable temperature) training of a TinyClap on (audio, caption) pairs.
 * Log-mel features are computed once; every epoch visits the pairs in a seeded random order with
 * Adam. The mel normalisation (per-band mean and std over all training frames) is stored in the model.
 */
export async function trainTinyClap(pairs: TrainingPair[], options: TinyClapTrainOptions = {}): Promise<{ model: TinyClap; history: EpochInfo[] }> {
  const epochs = options.epochs ?? 40;
  const batchSize = options.batchSize ?? 64;
  const learningRate = options.learningRate ?? 2e-3;
  const seed = options.seed ?? 0;
  const labelPromptRate = options.labelPromptRate ?? 0.25;
  if (pairs.length < 2) throw new Error(`trainTinyClap: need at least 2 (audio, caption) pairs, got ${pairs.length}`);
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new Error(`trainTinyClap: batchSize must be an integer >= 2, got ${batchSize}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`trainTinyClap: epochs must be a positive integer, got ${epochs}`);
  const labelPrompt = (labels: string[]) => ZERO_SHOT_TEMPLATE.replace('{label}', labels.join(', '));

  const vocabTexts = [...pairs.map((p) => p.caption), ...pairs.map((p) => labelPrompt(p.labels ?? [])), ...(options.extraVocabularyTexts ?? [])];
  const tokenizer = WordTokenizer.fromTexts(vocabTexts);
  const base = DEFAULT_TINY_CONFIG;
  const o = options.config ?? {};
  const config: TinyClapConfig = {
    ...base,
    ...o,
    mel: { ...base.mel, ...o.mel },
    audio: { ...base.audio, ...o.audio },
    text: { ...base.text, ...o.text },
    format: 'mats-tiny-clap',
    version: 1,
    vocab: [...tokenizer.vocab],
  };

  const rng = new Rng(`tiny-clap-train/${seed}`);
  const init = initialParameters(config, seed);
  const shapes = parameterShapes(config);
  // A throwaway model (constant parameters) to prepare audio exactly as inference will.
  const shapesModel = new TinyClap(config, new Map([...init].map(([k, v]) => [k, tf.tensor(v, shapes[k])])), { seed });
  const frames = shapesModel.frames;
  const nMels = config.mel.nMels;
  const mel = shapesModel.melFeatures(pairs.map((p) => p.clip), new Rng(`tiny-clap-crop/${seed}`));
  await shapesModel.dispose();

  // Per-band normalisation statistics over every training frame.
  const mean = new Float32Array(nMels);
  const sq = new Float64Array(nMels);
  const count = pairs.length * frames;
  for (let i = 0; i < pairs.length * frames; i++) for (let m = 0; m < nMels; m++) mean[m] += mel[i * nMels + m] / count;
  for (let i = 0; i < pairs.length * frames; i++) for (let m = 0; m < nMels; m++) sq[m] += (mel[i * nMels + m] - mean[m]) ** 2;
  const std = Float32Array.from(sq, (s) => Math.sqrt(s / count) + 1e-5);
  init.set('audio.mel_mean', mean);
  init.set('audio.mel_std', std);
  const columns = audioColumns(mel, pairs.length, frames, nMels, config.audio.kernel, mean, std);
  const colShape = [Math.ceil(frames / 2), config.audio.kernel * nMels];
  const perCol = colShape[0] * colShape[1];

  const params: Params = new Map();
  const trainable: tf.Variable[] = [];
  for (const [name, values] of init) {
    const t = tf.tensor(values, shapes[name]);
    if (FROZEN.has(name)) params.set(name, t);
    else {
      const v = tf.variable(t, true, `tiny_clap/${name}`);
      t.dispose();
      params.set(name, v);
      trainable.push(v);
    }
  }

  const optimizer = tf.train.adam(learningRate);
  const history: EpochInfo[] = [];
  const stepsPerEpoch = Math.floor(pairs.length / batchSize) || 1;
  const progress = createProgress({ label: 'tiny CLAP', total: epochs * stepsPerEpoch, unit: 'steps', mode: options.progress });
  const maxLength = config.text.maxLength;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const started = Date.now();
    const order = rng.permutation(pairs.length);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = order.slice(s * batchSize, Math.min(pairs.length, (s + 1) * batchSize));
      const colBatch = new Float32Array(idx.length * perCol);
      idx.forEach((j, r) => colBatch.set(columns.subarray(j * perCol, (j + 1) * perCol), r * perCol));
      const texts = idx.map((j) => {
        const pair = pairs[j];
        return pair.labels && pair.labels.length > 0 && rng.uniform() < labelPromptRate ? labelPrompt(pair.labels) : pair.caption;
      });
      const loss = tf.tidy(() => {
        const colT = tf.tensor3d(colBatch, [idx.length, colShape[0], colShape[1]]);
        const { ids, mask } = textBatch(tokenizer, texts, maxLength);
        return optimizer.minimize(
          () => contrastiveLoss(audioForward(params, colT), textForward(params, ids, mask), params.get('logit_scale')!),
          true,
          trainable,
        )!;
      });
      const value = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(value)) throw new Error(`trainTinyClap: loss became ${value} at epoch ${epoch}, step ${s}`);
      lossSum += value;
      progress.tick(1, { epoch, loss: value });
    }
    const info: EpochInfo = {
      epoch,
      loss: lossSum / stepsPerEpoch,
      logitScale: Math.exp(Math.min(params.get('logit_scale')!.dataSync()[0], Math.log(100))),
      seconds: (Date.now() - started) / 1000,
    };
    history.push(info);
    options.onEpoch?.(info);
  }
  progress.stop();
  optimizer.dispose();
  // Freeze: the returned model holds plain tensors.
  const frozen: Params = new Map();
  for (const [name, t] of params) {
    frozen.set(name, t instanceof tf.Variable ? tf.clone(t) : t);
    if (t instanceof tf.Variable) t.dispose();
  }
  return { model: new TinyClap(config, frozen, { seed }), history };
}
