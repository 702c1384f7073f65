import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, createEmbeddings, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { type AudioClip, writeWav } from '@mats/datasets';
import { TINY_WORLD_LM_DIR, hostGradients, buildPrefixLmBatch, createCausalLM, loadCausalLM, makeConfig, prefixLmLoss, saveCausalLM } from '@mats/llm-lora';
import { buildMemory } from '@mats/santa';
import { matchPredictionsToLabels } from '@mats/bench';
import { MatsItemsError, MatsModel, TrainingReplica, pipeline, worldModelSpec } from './index.js';
import { runCli } from './cli-main.js';

const SPEC = worldModelSpec({
  clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR, batchSize: 16 },
  mapper: { layers: 1, prefixLength: 4, clipLength: 4, width: null, heads: 8, mlpRatio: 2, projection: false },
  lora: { rank: 4, alpha: 16, dropout: 0.1, targets: ['c_attn'] },
  maxTextTokens: 48,
  santa: { topL: 4, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: 0 },
  generation: { strategy: 'greedy', beams: 3, maxNewTokens: 8, noRepeatNgram: 0, repetitionPenalty: 1 },
  batchSize: 8,
});

const CAPTIONS = ['a bell rings twice', 'a siren wails loudly', 'a dog barks then a bell rings', 'a quiet hum', 'a piano plays a rising melody', 'water drips slowly', 'a clock ticking', 'a car horn honks', 'wind blows softly', 'a flute plays'];
const QUESTIONS = ['Generate audio caption.', 'Classify events in the audio clip.', 'how many sounds are there?', 'is it loud or quiet?', 'what makes the sound?'];

let dir: string;
let runDir: string;
const clips: string[] = [];

/** A tone (frequency, count of beeps) as a 2 s clip at 16 kHz. */
function tone(freq: number, beeps: number, amplitude: number): AudioClip {
  const sr = 16000;
  const x = new Float32Array(2 * sr);
  for (let i = 0; i < x.length; i++) {
    const t = i / sr;
    const on = Math.floor(t * beeps * 2) % 2 === 0;
    x[i] = on ? amplitude * Math.sin(2 * Math.PI * freq * t) : 0;
  }
  return { sampleRate: sr, channels: [x] };
}

/** A MATS model with random mapper and adapter weights (B non-zero, so merging matters). */
async function createModel(): Promise<MatsModel> {
  const clap = TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 16 });
  const texts = await clap.embedText(CAPTIONS);
  const memory = buildMemory(texts, { k: 3, variance: 0.004, seed: 0, maxSize: 100 });
  const model = MatsModel.create(SPEC, { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
  const rng = new Rng(11);
  const vars = model.trainableVariables;
  const lora = vars.slice(model.mapper.trainableVariables.length);
  for (const v of lora) v.assign(tf.tensor(rng.fillNormal(new Float32Array(v.size), 0, 0.05) as Float32Array, v.shape));
  return model;
}

beforeAll(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'mats-model-'));
  for (let i = 0; i < 10; i++) {
    const path = join(dir, `clip-${i}.wav`);
    writeWav(path, tone(220 * (1 + (i % 5)), 1 + (i % 3), i % 2 ? 0.2 : 0.8));
    clips.push(path);
  }
  writeFileSync(join(dir, 'not-audio.wav'), 'this is not a wav file');
  const model = await createModel();
  runDir = join(dir, 'run');
  await model.save(runDir);
  await model.dispose();
});

describe('MatsModel', () => {
  it('a saved model loads (adapter merged) and answers as the model that was saved', async () => {
    const created = await createModel();
    const loaded = await MatsModel.load(runDir);
    const items = clips.slice(0, 4).map((audio, i) => ({ audio, instruction: QUESTIONS[i % QUESTIONS.length] }));
    const a = await created.ask(items);
    const b = await loaded.ask(items);
    expect(b).toEqual(a);
    expect(a.every((x) => x.error === null)).toBe(true);
    // The answers are words of the world's vocabulary, not empty.
    expect(a.some((x) => x.answer.length > 0)).toBe(true);
    await created.dispose();
    await loaded.dispose();
  });

  it('batched answers equal one-at-a-time answers on 50 items (greedy and beam)', async () => {
    const model = await MatsModel.load(runDir);
    const items = Array.from({ length: 50 }, (_, i) => ({ audio: clips[i % clips.length], instruction: QUESTIONS[(i * 3) % QUESTIONS.length] }));
    for (const generation of [{}, { strategy: 'beam' as const, beams: 3, noRepeatNgram: 2 }]) {
      const batched = await model.ask(items, { batchSize: 32, generation });
      const single: string[] = [];
      for (const item of items) single.push((await model.ask([item], { batchSize: 1, generation }))[0].answer);
      expect(batched.map((a) => a.answer)).toEqual(single);
    }
    await model.dispose();
  });

  it('prefixes() is a tensor [rows, P, n_embd]: the mapper on the Santa output', async () => {
    const model = await MatsModel.load(runDir);
    const { vectors } = await model.embedAudio(clips.slice(0, 3));
    const emb = createEmbeddings(3, model.dim);
    vectors.forEach((v, r) => emb.data.set(v!, r * model.dim));
    const prefix = model.prefixes(emb, { method: 'noise-only' });
    expect(prefix.shape).toEqual([3, 4, 128]);
    // noise-only is the identity on normalised rows: the mapper of the normalised embedding.
    const direct = tf.tidy(() => {
      const x = tf.tensor2d(emb.data, [3, model.dim]);
      return model.mapper.apply(tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D);
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(prefix, direct))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);
    const santa = model.prefixes(emb, { method: 'santa' });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(santa, prefix))).dataSync()[0])).toBeGreaterThan(1e-3);
    tf.dispose([prefix, direct, santa]);
    await model.dispose();
  });

  it('an unreadable clip, an empty instruction or a wrong embedding fail their own item only', async () => {
    const model = await MatsModel.load(runDir);
    const { vectors } = await model.embedAudio([clips[1]]);
    const items = [
      { audio: clips[0], instruction: 'Generate audio caption.' },
      { audio: join(dir, 'not-audio.wav'), instruction: 'Generate audio caption.' },
      { audio: join(dir, 'missing.wav'), instruction: 'Generate audio caption.' },
      { audio: clips[2], instruction: '  ' },
      { audio: new Float32Array(7), instruction: 'Generate audio caption.' },
      { audio: vectors[0]!, instruction: 'Generate audio caption.' },
      { audio: tone(440, 2, 0.5), instruction: 'Generate audio caption.' },
    ];
    const out = await model.ask(items);
    expect(out[0].error).toBeNull();
    expect(out[1].error).toMatch(/not-audio\.wav/);
    expect(out[2].error).toMatch(/missing\.wav/);
    expect(out[3].error).toBe('the instruction is empty');
    expect(out[4].error).toBe('the audio embedding has 7 values, expected the CLAP dimension 256');
    expect(out[5].error).toBeNull();
    expect(out[6].error).toBeNull();
    // The embedding of clip 1 answers as clip 1 does.
    const [viaPath] = await model.ask([{ audio: clips[1], instruction: 'Generate audio caption.' }]);
    expect(out[5].answer).toBe(viaPath.answer);
    await expect(model.answer(items)).rejects.toThrow(MatsItemsError);
    await expect(model.answer(items)).rejects.toThrow(/4 of 7 item\(s\) could not be answered:\n  item 1: .*not-audio\.wav/);
    await model.dispose();
  });

  it('a failing file in a batch does not change the crops of the long clips beside it', async () => {
    // 6 s clips: longer than the CLAP's 2 s window, so each embedding draws a random crop.
    const long = (freq: number) => {
      const sr = 16000;
      const x = Float32Array.from({ length: 6 * sr }, (_, i) => (0.1 + (0.8 * i) / (6 * sr)) * Math.sin((2 * Math.PI * freq * i) / sr));
      return { sampleRate: sr, channels: [x] };
    };
    const [a, b] = [join(dir, 'long-a.wav'), join(dir, 'long-b.wav')];
    writeWav(a, long(330));
    writeWav(b, long(550));
    const embed = async (middle: string) => {
      const model = await MatsModel.load(runDir);
      try {
        return await model.embedAudio([a, middle, b]);
      } finally {
        await model.dispose();
      }
    };
    // A 2 s clip draws no crop; the unreadable file fails before drawing one: the long clips must get the same crops.
    const clean = await embed(clips[0]);
    const failing = await embed(join(dir, 'not-audio.wav'));
    expect(clean.errors).toEqual([null, null, null]);
    expect(failing.errors[1]).toMatch(/not-audio\.wav/);
    expect(Array.from(failing.vectors[0]!)).toEqual(Array.from(clean.vectors[0]!));
    expect(Array.from(failing.vectors[2]!)).toEqual(Array.from(clean.vectors[2]!));
    // And the crops are random: the same file embedded again in one model gets another crop.
    const model = await MatsModel.load(runDir);
    const twice = await model.embedAudio([a, a]);
    await model.dispose();
    expect(Array.from(twice.vectors[1]!)).not.toEqual(Array.from(twice.vectors[0]!));
  });

  it('refuses a missing or incomplete run folder and a CLAP of another dimension, naming the file', async () => {
    await expect(MatsModel.load(join(dir, 'nowhere'))).rejects.toThrow(/nowhere: the run folder does not exist/);
    const partial = join(dir, 'partial');
    const model = await MatsModel.load(runDir);
    await model.save(partial);
    rmSync(join(partial, 'mapper.safetensors'));
    await expect(MatsModel.load(partial)).rejects.toThrow(/partial: the run folder has no mapper\.safetensors/);
    const small = { dim: 8, embedText: async () => createEmbeddings(0, 8), embedAudio: async () => createEmbeddings(0, 8), dispose: async () => {} };
    await expect(MatsModel.load(runDir, { clap: small })).rejects.toThrow(/mapper expects 256-d CLAP embeddings but the CLAP model gives 8-d/);
    await model.dispose();
  });

  it('refuses an LLM narrower or wider than the mapper at load, before any clip is embedded', async () => {
    const world = loadCausalLM(TINY_WORLD_LM_DIR);
    const width = world.config.nEmbd;
    const wide = join(dir, 'wide-llm');
    await saveCausalLM(createCausalLM(makeConfig({ ...world.config, nEmbd: 2 * width }), new Rng(1), world.tokenizer!), wide);
    copyFileSync(join(TINY_WORLD_LM_DIR, 'tokenizer.json'), join(wide, 'tokenizer.json'));
    world.dispose();
    let embedded = 0;
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    const counting = { dim: clap.dim, embedText: (t: string[]) => clap.embedText(t), embedAudio: (c: AudioClip[]) => ((embedded += c.length), clap.embedAudio(c)), dispose: () => clap.dispose() };
    await expect(MatsModel.load(runDir, { llmDir: wide, clap: counting })).rejects.toThrow(`the mapper gives ${width}-wide prefixes but the LLM's n_embd is ${2 * width}`);
    expect(embedded).toBe(0);
  });

  it('trainingLoss is eq. 1-2: the prefix-LM loss of the mapper on the (noisy) normalised text embedding', async () => {
    const model = await createModel();
    const texts = await model.clap.embedText(CAPTIONS.slice(0, 3));
    const examples = CAPTIONS.slice(0, 3).map((c) => model.encodeExample({ instruction: 'Generate audio caption.', answer: c }));
    const clean = model.trainingLoss({ embeddings: texts, examples });
    const expected = tf.tidy(() => {
      const x = tf.tensor2d(texts.data, [3, texts.dim]);
      const prefix = model.mapper.apply(tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D);
      return prefixLmLoss(model.llm, prefix, buildPrefixLmBatch(examples, 4, model.tokenizer.eosId, model.tokenizer.padId));
    });
    expect(clean.dataSync()[0]).toBeCloseTo(expected.dataSync()[0], 5);
    const noisyA = model.trainingLoss({ embeddings: texts, examples }, { noise: { variance: 0.05, rng: new Rng(5) } });
    const noisyB = model.trainingLoss({ embeddings: texts, examples }, { noise: { variance: 0.05, rng: new Rng(5) } });
    expect(noisyA.dataSync()[0]).toBe(noisyB.dataSync()[0]);
    expect(Math.abs(noisyA.dataSync()[0] - clean.dataSync()[0])).toBeGreaterThan(1e-4);
    tf.dispose([clean, expected, noisyA, noisyB]);
    expect(() => model.encodeExample({ instruction: 'a '.repeat(60), answer: 'x' }, 'record "r1"')).toThrow(/maxTextTokens: 48 leaves no room for the answer of record "r1"/);
    await model.dispose();
  });
});

describe('TrainingReplica', () => {
  it('has the model\'s trainable tensors in its order; with the model\'s values it gives the same loss and gradients, dropout and noise included', async () => {
    const model = await createModel();
    const replica = TrainingReplica.create(SPEC, { llm: loadCausalLM(TINY_WORLD_LM_DIR), clapDim: model.dim });
    const vars = model.trainableVariables;
    expect(replica.trainableVariables.map((v) => v.shape)).toEqual(vars.map((v) => v.shape));
    // A fresh replica is the fresh model of the same seed; the test model's adapter B was randomised.
    const values = vars.map((v) => v.dataSync().slice() as Float32Array);
    expect(Array.from(replica.trainableVariables[vars.length - 1].dataSync())).not.toEqual(Array.from(values[vars.length - 1]));
    replica.setTrainableValues(values);
    const texts = await model.clap.embedText(CAPTIONS.slice(0, 3));
    const examples = QUESTIONS.slice(0, 3).map((q, i) => model.encodeExample({ instruction: q, answer: CAPTIONS[i] }));
    const options = (seed: number) => ({ noise: { variance: 0.004, rng: new Rng(seed) }, training: true, dropoutRng: new Rng(seed + 1) });
    const a = await hostGradients(() => model.trainingLoss({ embeddings: texts, examples }, options(5)), vars);
    const b = await hostGradients(() => replica.trainingLoss({ embeddings: texts, examples }, options(5)), replica.trainableVariables);
    expect(b.loss).toBe(a.loss);
    expect(a.loss).toBeGreaterThan(1);
    b.grads.forEach((g, i) => expect(Array.from(g), `gradient ${i}`).toEqual(Array.from(a.grads[i])));
    expect(a.grads.some((g) => g.some((x) => x !== 0))).toBe(true);
    expect(() => replica.setTrainableValues(values.slice(1))).toThrow(/arrays for .* trainable tensors/);
    replica.dispose();
    await model.dispose();
  });
});

describe('pipeline', () => {
  it('question answering, captioning and classification answer as ask() does; labels ranked by CLAP text matching', async () => {
    const model = await MatsModel.load(runDir);
    const ask = await pipeline('audio-question-answering', model);
    const caption = await pipeline('audio-captioning', model);
    const classify = await pipeline('audio-classification', model);
    const [direct, cap, cls] = await model.ask([
      { audio: clips[3], instruction: 'what makes the sound?' },
      { audio: clips[3], instruction: 'Generate audio caption.' },
      { audio: clips[3], instruction: 'Classify events in the audio clip.' },
    ]);
    expect(await ask(clips[3], 'what makes the sound?')).toEqual({ answer: direct.answer });
    expect(await caption(clips[3])).toEqual({ caption: cap.answer });
    const labels = ['bell', 'siren', 'piano', 'hum'];
    const result = await classify(clips[3], { labels });
    expect(result.answer).toBe(cls.answer);
    const match = await matchPredictionsToLabels([cls.answer], labels, model.clap, { multiLabelSeparator: ',' });
    expect(result.labels![0].label).toBe(match.predictedLabel[0]);
    expect(result.labels!.map((l) => l.score)).toEqual([...match.scores[0]].sort((a, b) => b - a));
    await expect(ask(clips[3], '')).rejects.toThrow(/question is empty/);
    await expect(ask(join(dir, 'missing.wav'), 'what?')).rejects.toThrow(/missing\.wav/);
    await model.dispose();
  });
});

describe('mats CLI', () => {
  it('ask, caption and classify print what the model answers; --json; usage errors exit 2', async () => {
    const model = await MatsModel.load(runDir);
    const [expected] = await model.ask([{ audio: clips[4], instruction: 'is it loud or quiet?' }]);
    const [capExpected] = await model.ask([{ audio: clips[5], instruction: 'Generate audio caption.' }]);
    await model.dispose();
    const run = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(args, (s) => (out += s), (s) => (err += s));
      return { code, out, err };
    };
    expect(await run(['ask', runDir, clips[4], 'is it loud or quiet?'])).toMatchObject({ code: 0, out: `${expected.answer}\n` });
    const json = await run(['caption', runDir, clips[5], join(dir, 'missing.wav'), '--json']);
    expect(json.code).toBe(1);
    const rows = JSON.parse(json.out);
    expect(rows[0]).toMatchObject({ audio: clips[5], instruction: 'Generate audio caption.', answer: capExpected.answer, error: null });
    expect(rows[1].error).toMatch(/missing\.wav/);
    const labelsFile = join(dir, 'labels.json');
    writeFileSync(labelsFile, JSON.stringify(['bell', 'siren', 'hum']));
    const cls = await run(['classify', runDir, clips[5], '--labels', labelsFile]);
    expect(cls.code).toBe(0);
    expect(cls.out).toMatch(new RegExp(`^${clips[5].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\t(bell|siren|hum)\t`));
    expect((await run(['ask', runDir, clips[4]])).code).toBe(2);
    expect((await run(['ask', runDir, clips[4], '  '])).err).toMatch(/question is empty/);
    expect((await run(['frobnicate', runDir])).err).toMatch(/unknown command "frobnicate"/);
    expect((await run(['ask', runDir, clips[4], 'q?', '--wasm-threads', '9'])).err).toMatch(/--wasm-threads must be from 1 to 8, got 9/);
    expect(await run(['--help'])).toMatchObject({ code: 0 });
    const missing = await run(['ask', join(dir, 'nowhere'), clips[0], 'q?']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/the run folder does not exist/);
  });
});
