import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, createEmbeddings, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { generateWorld, mmauPrompt, writeWorld, type MmauItem } from '@mats/datasets';
import { CausalLmDecoder, TINY_WORLD_LM_DIR, loadCausalLM } from '@mats/llm-lora';
import { buildMemory } from '@mats/santa';
import { MatsItemsError } from '../answering.js';
import { worldModelSpec } from '../config.js';
import { MatsModel } from '../model.js';
import { pipeline } from '../pipeline.js';
import { runCli } from '../cli-main.js';
import { exportRun } from './export-run.js';
import { ExportedMatsModel, ExportedModelError } from './exported-model.js';

// The world model's shape with a smaller mapper; Santa with a small memory so that topL matters.
const SPEC = worldModelSpec({
  mapper: { layers: 1, prefixLength: 4, clipLength: 4, width: null, heads: 8, mlpRatio: 2, projection: false },
  lora: { rank: 4, alpha: 16, dropout: 0.1, targets: ['c_attn'] },
  santa: { topL: 4, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: 0 },
  generation: { strategy: 'greedy', beams: 3, maxNewTokens: 12, noRepeatNgram: 0, repetitionPenalty: 1 },
  batchSize: 4,
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('MatsModel.load of an export folder (ExportedMatsModel on onnxruntime-node)', () => {
  let dir: string;
  let runDir: string;
  let exportDir: string;
  let items: { audio: string; instruction: string }[];
  let tfjsModel: MatsModel;
  let onnxModel: ExportedMatsModel;

  beforeAll(async () => {
    await selectBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'mats-exported-model-'));
    // World MMAU items (clips rendered by the world generator) and a run trained on nothing: random
    // mapper and LoRA (B non-zero, so the merge matters), a Santa memory of the world's captions.
    const worldDir = join(dir, 'world');
    const world = generateWorld({ seed: 0, size: 'small', counts: { pretrain: 12, train: 4, eval: 8 } });
    await writeWorld(world, worldDir);
    const mmau: MmauItem[] = world.eval.mmau.slice(0, 10);
    items = mmau.map((m) => ({ audio: join(worldDir, m.audio_id), instruction: mmauPrompt(m.question, m.choices) }));
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    const memory = buildMemory(await clap.embedText(world.pretrain.map((p) => p.caption)), { k: 3, variance: 0.004, seed: 0, maxSize: 100 });
    const created = MatsModel.create(SPEC, { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
    const rng = new Rng(7);
    for (const v of created.trainableVariables) v.assign(tf.add(v, tf.tensor(rng.fillNormal(new Float32Array(v.size), 0, 0.05) as Float32Array, v.shape)));
    runDir = join(dir, 'run');
    await created.save(runDir);
    await created.dispose();
    exportDir = join(dir, 'export');
    await exportRun(runDir, exportDir);
    tfjsModel = (await MatsModel.load(runDir, { backend: 'cpu' })) as MatsModel;
    const loaded = await MatsModel.load(exportDir, { intraOpThreads: 1 });
    if (!(loaded instanceof ExportedMatsModel)) throw new Error('expected an ExportedMatsModel');
    onnxModel = loaded;
  });

  afterAll(async () => {
    await tfjsModel?.dispose();
    await onnxModel?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('detects the export by its manifest and takes the run spec from it', () => {
    expect(tfjsModel.engine).toBe('tfjs');
    expect(onnxModel.engine).toBe('onnx');
    expect(items.length).toBeGreaterThanOrEqual(6);
    const { seed, method, santa, generation } = tfjsModel.spec;
    // The manifest holds beams only when the strategy is beam: greedy exports numBeams 1.
    expect(onnxModel.spec).toEqual({ seed, method, santa, generation: { ...generation, beams: 1 }, batchSize: 32 });
  });

  it('prefixes (Santa in TypeScript, mapper on ONNX Runtime) equal the tfjs prefixes within 1e-4, and so do the first logits', async () => {
    const emb = await tfjsModel.embedAudio(items.slice(0, 4).map((i) => i.audio));
    const got = await onnxModel.embedAudio(items.slice(0, 4).map((i) => i.audio));
    const dim = tfjsModel.dim;
    const e = createEmbeddings(4, dim);
    emb.vectors.forEach((v, r) => e.data.set(v!, r * dim));
    expect(maxAbsDiff(got.vectors.flatMap((v) => [...v!]), emb.vectors.flatMap((v) => [...v!]))).toBeLessThan(1e-4);
    for (const method of ['santa', 'memory-only', 'noise-only'] as const) {
      expect(maxAbsDiff(onnxModel.transferEmbeddings(e, { method }).data, tfjsModel.transferEmbeddings(e, { method }).data)).toBe(0);
      const want = tfjsModel.prefixes(e, { method });
      const mine = await onnxModel.prefixes(e, { method });
      expect(mine.shape).toEqual(want.shape);
      expect(maxAbsDiff(mine.data, want.dataSync())).toBeLessThan(1e-4);
      if (method === 'santa') {
        const prompts = items.slice(0, 4).map((i) => tfjsModel.tokenizer.encode(i.instruction));
        const tfjsLogits = await new CausalLmDecoder(tfjsModel.llm).start(want, prompts);
        const dec = onnxModel.exported.llm.decoder();
        const onnxLogits = await dec.start(mine.data, prompts);
        dec.end();
        expect(maxAbsDiff(onnxLogits, tfjsLogits)).toBeLessThan(1e-4);
      }
      want.dispose();
    }
  });

  it('identical greedy answers to the run folder on world MMAU items (batched, padded rows)', async () => {
    const want = await tfjsModel.answer(items);
    const got = await onnxModel.answer(items);
    expect(got).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(1);
  });

  it('identical beam-search answers, and the other transfer methods', async () => {
    const beam = { generation: { strategy: 'beam' as const, beams: 3, noRepeatNgram: 2, repetitionPenalty: 1.5 } };
    expect(await onnxModel.answer(items, beam)).toEqual(await tfjsModel.answer(items, beam));
    for (const method of ['memory-only', 'noise-only'] as const) {
      expect(await onnxModel.answer(items.slice(0, 4), { method, batchSize: 2 })).toEqual(await tfjsModel.answer(items.slice(0, 4), { method, batchSize: 2 }));
    }
  });

  it('bad items get the same errors as on tfjs; answer throws MatsItemsError with the other answers', async () => {
    const bad = join(dir, 'not-audio.wav');
    writeFileSync(bad, 'this is not a wav file');
    const mixed = [items[0], { audio: bad, instruction: items[1].instruction }, { audio: items[2].audio, instruction: '  ' }, { audio: new Float32Array(3), instruction: 'x' }];
    const want = await tfjsModel.ask(mixed);
    const got = await onnxModel.ask(mixed);
    expect(got).toEqual(want);
    expect(got.map((a) => a.error === null)).toEqual([true, false, false, false]);
    const err = await onnxModel.answer(mixed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatsItemsError);
    expect((err as MatsItemsError).failed.map((f) => f.index)).toEqual([1, 2, 3]);
  });

  it('pipelines and `mats ask` open the export folder (question answering, classification with labels through the ONNX text encoder)', async () => {
    const [want] = await tfjsModel.answer([items[0]]);
    const ask = await pipeline('audio-question-answering', exportDir, { intraOpThreads: 1 });
    expect(ask.model.engine).toBe('onnx');
    expect(await ask(items[0].audio, items[0].instruction)).toEqual({ answer: want });
    await ask.dispose();
    let out = '';
    expect(await runCli(['ask', exportDir, items[0].audio, items[0].instruction], (s) => (out += s), () => {})).toBe(0);
    expect(out).toBe(`${want}\n`);
    const classify = await pipeline('audio-classification', onnxModel);
    const ref = await pipeline('audio-classification', tfjsModel);
    const labels = ['dog bark', 'bell', 'siren'];
    const got = await classify(items[0].audio, { labels });
    const ranked = await ref(items[0].audio, { labels });
    expect(got.answer).toBe(ranked.answer);
    expect(got.labels!.map((l) => l.label)).toEqual(ranked.labels!.map((l) => l.label));
    expect(maxAbsDiff(got.labels!.map((l) => l.score), ranked.labels!.map((l) => l.score))).toBeLessThan(1e-4);
  });

  it('what needs the tfjs model throws ExportedModelError naming the folder and the run it came from', async () => {
    expect(() => onnxModel.trainingLoss()).toThrow(ExportedModelError);
    expect(() => onnxModel.trainingLoss()).toThrow(/trainingLoss is not available on an ONNX export .*open the run folder it was exported from \(.*run\)/);
    expect(() => onnxModel.encodeExample({ instruction: 'a', answer: 'b' })).toThrow(/encodeExample \(training examples\) is not available/);
    expect(() => onnxModel.trainableVariables).toThrow(/training \(trainableVariables\) is not available on an ONNX export/);
    await expect(onnxModel.save(join(dir, 'saved'))).rejects.toThrow(/export: save is not available on an ONNX export/);
    await expect(MatsModel.load(exportDir, { llmDir: TINY_WORLD_LM_DIR })).rejects.toThrow(/llmDir does not apply to an ONNX export/);
    await expect(MatsModel.load(exportDir, { intraOpThreads: 0 })).rejects.toThrow(/threads must be a positive integer, got 0/);
    await expect(exportRun(exportDir, join(dir, 'again'))).rejects.toThrow(/is already an ONNX export folder/);
  });
});
