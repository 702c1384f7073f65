import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, createEmbeddings, l2Normalize, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { TINY_WORLD_LM_DIR, loadCausalLM } from '@mats/llm-lora';
import { MatsModel, worldModelSpec } from '@mats/model';
import { buildMemory, injectNoise } from '@mats/santa';
import { transferDiagnostics, type TransferPair } from './study-transfer.js';

const CAPTIONS = ['a bell rings twice', 'a siren wails loudly', 'a dog barks then a bell rings', 'a quiet hum', 'water drips slowly', 'a car horn honks', 'wind blows softly'];
const VARIANCE = 0.004;

let model: MatsModel;
let pairs: TransferPair[];

beforeAll(async () => {
  await selectBackend('wasm');
  const clap = TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 16 });
  const texts = await clap.embedText(CAPTIONS);
  const spec = worldModelSpec({ clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR, batchSize: 16 }, mapper: { layers: 1, prefixLength: 4, clipLength: 4, width: null, heads: 8, mlpRatio: 2, projection: false } });
  model = MatsModel.create(spec, { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory: buildMemory(texts, { k: 3, variance: VARIANCE, seed: 0, maxSize: 100 }) });
  // Stand-in "audio" embeddings: each caption's text embedding pushed off by a fixed direction (a modality gap).
  const rng = new Rng(5);
  const shift = rng.fillNormal(new Float32Array(model.dim), 0, 0.1) as Float32Array;
  const unit = l2Normalize(texts);
  pairs = CAPTIONS.map((caption, i) => {
    const audio = new Float32Array(model.dim);
    for (let j = 0; j < model.dim; j++) audio[j] = unit.data[i * model.dim + j] + shift[j];
    return { audio, caption, instruction: 'Generate audio caption.' };
  });
});

/** The caption loss of all pairs as ONE batch, straight from MatsModel.trainingLoss (mean per token). */
async function oneBatchLoss(inputs: { data: Float32Array; rows: number; dim: number }): Promise<number> {
  const examples = pairs.map((p) => model.encodeExample({ instruction: p.instruction, answer: p.caption }));
  const loss = model.trainingLoss({ embeddings: inputs, examples }, { noise: null });
  const v = (await loss.data())[0];
  loss.dispose();
  return v;
}

describe('transferDiagnostics', () => {
  it('batched losses equal the one-batch loss of each prefix input; the cosines are those of the inputs', async () => {
    const d = await transferDiagnostics(model, pairs, VARIANCE, 3, 3);
    expect(d.pairs).toBe(CAPTIONS.length);
    const text = l2Normalize(await model.clap.embedText(CAPTIONS));
    const audio = createEmbeddings(pairs.length, model.dim);
    pairs.forEach((p, i) => audio.data.set(p.audio, i * model.dim));
    expect(d.loss.text).toBeCloseTo(await oneBatchLoss(text), 4);
    expect(d.loss.audio).toBeCloseTo(await oneBatchLoss(l2Normalize(audio)), 4);
    expect(d.loss.noisyText).toBeCloseTo(await oneBatchLoss(injectNoise(text, { variance: VARIANCE, rng: new Rng('study-transfer/3/noise') })), 4);
    expect(d.loss.santa).toBeCloseTo(await oneBatchLoss(model.transferEmbeddings(audio, { method: 'santa', rng: new Rng('study-transfer/3/santa') })), 4);
    for (const k of ['text', 'noisyText', 'audio', 'santa'] as const) expect(Number.isFinite(d.loss[k]) && d.loss[k] > 0).toBe(true);
    // An input's cosine to itself is 1; the noisy text keeps about 1/sqrt(1 + d v) of its caption (d = 256).
    expect(d.cosineToAudio.audio).toBeCloseTo(1, 5);
    expect(d.cosineToText.text).toBeCloseTo(1, 5);
    expect(d.cosineToText.noisyText).toBeGreaterThan(1 / Math.sqrt(1 + model.dim * VARIANCE) - 0.06);
    expect(d.cosineToText.noisyText).toBeLessThan(1 / Math.sqrt(1 + model.dim * VARIANCE) + 0.06);
    // cos(audio, text) is the same number seen from both sides.
    expect(d.cosineToText.audio).toBeCloseTo(d.cosineToAudio.text, 6);
  });

  it('refuses an empty set and a wrong-width audio embedding, naming the pair', async () => {
    await expect(transferDiagnostics(model, [], VARIANCE, 0)).rejects.toThrow(/no \(clip, caption\) pairs/);
    await expect(transferDiagnostics(model, [{ audio: new Float32Array(3), caption: 'a bell', instruction: 'Generate audio caption.' }], VARIANCE, 0)).rejects.toThrow(/pair 0: audio embedding has 3 values, the CLAP gives 256/);
  });
});
