import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng, selectBackend, serializeSafetensors, readSafetensors } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { TinyClap } from './tiny-clap.js';
import { trainTinyClap, type TrainingPair } from './train.js';
import { audioColumns, dense } from './model.js';
import { WordTokenizer } from './tokenizer.js';
import { zeroShotClassify } from '../zero-shot.js';
import { loadClap } from '../load.js';

const SMALL = { audio: { channels: 16, kernel: 3 }, text: { width: 16, maxLength: 12, kernel: 3 }, dim: 24, clipSeconds: 0.5 };

function makeClip(kind: number, rng: Rng): AudioClip {
  const n = 8000;
  const x = new Float32Array(n);
  const f = kind === 0 ? 300 : 2500;
  for (let i = 0; i < n; i++) x[i] = kind === 2 ? 0.3 * rng.normal() : 0.5 * Math.sin((2 * Math.PI * f * i) / 16000 + rng.uniform() * 0.01) + 0.01 * rng.normal();
  return { sampleRate: 16000, channels: [x] };
}
const LABELS = ['low tone', 'high whistle', 'static noise'];
const CAPTIONS = [['a low hum is heard', 'deep tone playing'], ['a high whistle sounds', 'shrill high pitched tone'], ['static noise hisses', 'a burst of noise']];

describe('TinyClap', () => {
  let model: TinyClap;
  let history: { loss: number }[];
  const rng = new Rng(3);
  const pairs: TrainingPair[] = Array.from({ length: 24 }, (_, i) => ({ clip: makeClip(i % 3, rng), caption: CAPTIONS[i % 3][Math.floor(i / 3) % 2], labels: [LABELS[i % 3]] }));

  beforeAll(async () => {
    await selectBackend('wasm');
    ({ model, history } = await trainTinyClap(pairs, { config: SMALL, epochs: 15, batchSize: 12, learningRate: 5e-3, progress: 'silent' }));
  }, 300_000);

  it('learns: the contrastive loss falls and zero-shot classifies held-out clips above chance', async () => {
    expect(history).toHaveLength(15);
    expect(history[14].loss).toBeLessThan(history[0].loss * 0.6);
    const test = Array.from({ length: 9 }, (_, i) => makeClip(i % 3, new Rng(100 + i)));
    const result = await zeroShotClassify(model, test, LABELS);
    const correct = result.predictions.filter((p, i) => p === i % 3).length;
    expect(correct).toBeGreaterThanOrEqual(7); // chance is 3 of 9
  });

  it('returns raw LayerNorm outputs (norm about sqrt(dim), not 1)', async () => {
    const e = await model.embedText(['a low hum is heard']);
    const norm = Math.hypot(...e.data);
    expect(norm).toBeGreaterThan(2);
    expect(e.dim).toBe(24);
  });

  it('saves and loads to identical embeddings, also through loadClap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiny-clap-'));
    try {
      model.save(dir);
      const again = await loadClap({ type: 'tiny', dir });
      const clips = [makeClip(0, new Rng(9)), makeClip(2, new Rng(10))];
      expect(Array.from((await again.embedAudio(clips)).data)).toEqual(Array.from((await model.embedAudio(clips)).data));
      expect(Array.from((await again.embedText(['static noise'])).data)).toEqual(Array.from((await model.embedText(['static noise'])).data));
      await again.dispose();
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(config.format).toBe('mats-tiny-clap');
      expect(config.vocab.slice(0, 2)).toEqual(['<pad>', '<unk>']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the problem with a bad model directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiny-clap-bad-'));
    try {
      expect(() => TinyClap.load(dir)).toThrow(/config\.json: tiny CLAP config not found/);
      model.save(dir);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, dim: 0 }));
      expect(() => TinyClap.load(dir)).toThrow(/field "dim" must be a positive number, got 0/);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, dim: 32 }));
      expect(() => TinyClap.load(dir)).toThrow(/tensor "audio.projection.linear1.weight" has shape \[48,24\], expected \[48,32\]/);
      writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors({ x: { data: new Float32Array(1), shape: [1] } }));
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      expect(() => TinyClap.load(dir)).toThrow(/missing tensor "audio.mel_mean"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects empty clips and 0 Hz clips with the clip index', async () => {
    await expect(model.embedAudio([makeClip(0, rng), { sampleRate: 16000, channels: [new Float32Array(0)] }])).rejects.toThrow('audio clip 1: is empty (0 samples)');
    await expect(model.embedAudio([{ sampleRate: 0, channels: [new Float32Array(5)] }])).rejects.toThrow(/sampleRate must be a positive number of Hz, got 0/);
  });
});

describe('TinyClap building blocks', () => {
  it('audioColumns stacks normalised neighbouring frames with stride 2 (hand-computed)', () => {
    // 1 clip, 3 frames, 1 mel band: values 1, 2, 3; mean 1, std 2 -> 0, 0.5, 1
    const cols = audioColumns(Float32Array.from([1, 2, 3]), 1, 3, 1, 3, Float32Array.from([1]), Float32Array.from([2]));
    // output frames t = 0, 1 cover input frames (-1, 0, 1) and (1, 2, 3)
    expect(Array.from(cols)).toEqual([0, 0, 0.5, 0.5, 1, 0]);
  });

  it('dense has the same value and gradients as tf.matMul', async () => {
    await selectBackend('wasm');
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const w = tf.tensor2d([[0.5, -1], [2, 0], [1, 1]]);
    const f = (a: tf.Tensor, b: tf.Tensor) => dense(a, b).square().sum() as tf.Scalar;
    const g = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D).square().sum() as tf.Scalar;
    const [gx, gw] = tf.grads(f)([x, w]);
    const [hx, hw] = tf.grads(g)([x, w]);
    expect(Array.from(gx.dataSync())).toEqual(Array.from(hx.dataSync()));
    expect(Array.from(gw.dataSync())).toEqual(Array.from(hw.dataSync()));
    expect(Array.from(dense(x, w).dataSync())).toEqual([7.5, 2, 18, 2]); // [1*0.5+2*2+3*1, -1+0+3], [4*0.5+5*2+6*1, -4+0+6]
  });

  it('the word tokenizer maps unknown words to <unk> and rejects texts without words', () => {
    const tok = WordTokenizer.fromTexts(['a dog barks.', 'a bell rings']);
    expect(tok.vocab).toEqual(['<pad>', '<unk>', '.', 'a', 'barks', 'bell', 'dog', 'rings']);
    expect(tok.encode('A cat barks.')).toEqual([3, 1, 4, 2]);
    expect(() => tok.encodeBatch(['   '], 4)).toThrow(/text 0 has no words/);
  });
});
