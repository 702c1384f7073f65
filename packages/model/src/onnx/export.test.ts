import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, l2Normalize, type Embeddings } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { decodeAudioFile, writeWav, type AudioClip } from '@mats/datasets';
import { TINY_WORLD_LM_DIR, CausalLmDecoder, applyLora, generateBatch, loadCausalLM, mergeLora, type CausalLM } from '@mats/llm-lora';
import { createMapper, type TransformerMapper } from '@mats/mapper';
import { buildMemory, saveMemory } from '@mats/santa';
import { exportModel } from './export-run.js';
import { loadExported, type ExportedModel } from './runtime.js';
import { Graph } from './graph.js';
import { MANIFEST_FILE } from './manifest.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Synthetic clips: tones, a chirp, noise bursts, at several rates and lengths (resampling and tiling paths). */
function clips(): AudioClip[] {
  const rng = new Rng(3);
  const make = (sampleRate: number, seconds: number, f: (t: number, i: number) => number, channels = 1): AudioClip => {
    const n = Math.round(sampleRate * seconds);
    return { sampleRate, channels: Array.from({ length: channels }, () => Float32Array.from({ length: n }, (_, i) => f(i / sampleRate, i))) };
  };
  return [
    make(16000, 2, (t) => 0.5 * Math.sin(2 * Math.PI * 440 * t)),
    make(22050, 1.3, (t) => 0.4 * Math.sin(2 * Math.PI * (200 + 900 * t) * t)),
    make(16000, 2.5, () => 0.2 * (rng.uniform() * 2 - 1), 2),
    make(44100, 0.7, (t) => (Math.floor(t * 8) % 2 ? 0.6 : 0) * Math.sin(2 * Math.PI * 1200 * t)),
  ];
}

describe('exportModel + loadExported (world shapes, random LoRA and mapper)', () => {
  let dir: string;
  let llm: CausalLM;
  let mapper: TransformerMapper;
  let clap: TinyClap;
  let exported: ExportedModel;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'mats-onnx-'));
    const rng = new Rng(11);
    llm = loadCausalLM(TINY_WORLD_LM_DIR);
    const lora = applyLora(llm, { r: 4, alpha: 8 }, rng);
    for (const l of lora.layers.values()) l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.05, 'float32', 5));
    mergeLora(llm, lora);
    clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    mapper = createMapper({ clapDim: clap.dim, width: 64, llmDim: llm.config.nEmbd, prefixLength: 6, clipLength: 5, layers: 2, heads: 8 }, rng);
    const texts = await clap.embedText(['a dog barks', 'a bell rings twice', 'a siren wails', 'a low hum', 'a high beep then a click', 'birds chirp', 'a drum hit', 'a chord is played']);
    saveMemory(join(dir, 'santa-src.safetensors'), buildMemory(texts, { k: 3, variance: 0.01, seed: 1 }));
    await exportModel(
      { llm, tokenizerDir: TINY_WORLD_LM_DIR, mapper, clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR }, santaFile: join(dir, 'santa-src.safetensors'), generation: { maxNewTokens: 12 } },
      join(dir, 'export'),
    );
    exported = await loadExported(join(dir, 'export'), { threads: 1 });
  });

  afterAll(async () => {
    await exported?.dispose();
    llm?.dispose();
    mapper?.dispose();
    await clap?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a manifest with the dimensions of every part', () => {
    const m = exported.manifest;
    expect(m.llm).toMatchObject({ vocabSize: 226, nEmbd: 128, nLayer: 4, nHead: 4, headDim: 32, eosTokenId: 0 });
    expect(m.mapper).toEqual({ clapDim: 256, prefixLength: 6, outDim: 128, normalizesInput: true });
    expect(m.clap).toMatchObject({ kind: 'tiny', dim: 256, sampleRate: 16000, frames: clap.frames, textMaxLength: 32 });
    expect(m.santa).toMatchObject({ k: 3, memoryRows: 8, method: 'santa' });
    expect(m.files.tokenizer).toContain('tokenizer.json');
    expect(m.generation.maxNewTokens).toBe(12);
    expect(exported.memory!.centroids.rows).toBe(3);
  });

  it('mapper: ONNX prefixes equal tfjs within 1e-4 (raw embeddings, normalised inside the graph)', async () => {
    const rng = new Rng(2);
    const e: Embeddings = { rows: 5, dim: 256, data: rng.fillNormal(new Float32Array(5 * 256), 0, 3) as Float32Array };
    const ref = await mapper.forward(e);
    const got = await exported.mapper.forward(e, 2);
    expect(got.shape).toEqual(ref.shape);
    const d = maxAbsDiff(got.data, ref.data);
    expect(d).toBeLessThan(1e-4);
    expect(Math.max(...ref.data.map(Math.abs))).toBeGreaterThan(0.1);
  });

  it('tiny CLAP: ONNX audio and text embeddings equal the tfjs TinyClap within 1e-4', async () => {
    const c = clips();
    const ref = await clap.embedAudio(c);
    const got = await exported.clap!.embedAudio(c);
    expect(maxAbsDiff(got.data, ref.data)).toBeLessThan(1e-4);
    const texts = ['a dog barks', 'a bell rings twice then a siren wails loudly', 'zzz unknownword', Array.from({ length: 40 }, (_, i) => (i % 2 ? 'beep' : 'a')).join(' ')];
    const refT = await clap.embedText(texts);
    const gotT = await exported.clap!.embedText(texts);
    expect(maxAbsDiff(gotT.data, refT.data)).toBeLessThan(1e-4);
    // different inputs give different embeddings (the comparison is not between constants)
    expect(maxAbsDiff(ref.data.subarray(0, 256), ref.data.subarray(256, 512))).toBeGreaterThan(1e-2);
  });

  it('tiny CLAP files: embedAudioFiles of the export gives exactly the rows of decode-then-embed, and those of TinyClap.embedAudioFiles within 1e-4', async () => {
    const rng = new Rng(8);
    const long: AudioClip = { sampleRate: 44100, channels: [0, 1].map((c) => Float32Array.from({ length: 44100 * 9 }, (_, i) => 0.3 * Math.sin(2 * Math.PI * (300 + 200 * c + i / 400) * (i / 44100)) + 0.05 * (rng.uniform() - 0.5))) };
    const paths = [...clips(), long].map((clip, i) => {
      const path = join(dir, `file-${i}.wav`);
      writeWav(path, clip, { format: 'float32' });
      return path;
    });
    // Fresh encoders: the seeded crop streams start at the same state.
    const [a, b] = [await loadExported(join(dir, 'export'), { threads: 1 }), await loadExported(join(dir, 'export'), { threads: 1 })];
    const tiny = TinyClap.load(TINY_CLAP_WORLD_DIR);
    try {
      const files = await a.clap!.embedAudioFiles!(paths);
      const decoded = await b.clap!.embedAudio(await Promise.all(paths.map((p) => decodeAudioFile(p))));
      expect(Array.from(files.data)).toEqual(Array.from(decoded.data));
      expect(maxAbsDiff(files.data, (await tiny.embedAudioFiles(paths)).data)).toBeLessThan(1e-4);
      expect(maxAbsDiff(files.data.subarray(4 * 256), files.data.subarray(0, 256))).toBeGreaterThan(1e-2);
      await expect(a.clap!.embedAudioFiles!([join(dir, 'missing.wav')])).rejects.toThrow(/missing\.wav/);
    } finally {
      await Promise.all([a.dispose(), b.dispose(), tiny.dispose()]);
    }
  });

  it('greedy and beam answers: identical token ids from generateBatch on tfjs and on the ORT decoder', async () => {
    const tok = exported.tokenizer;
    const prompts = ['Generate audio caption.', 'Classify events in the audio clip.', 'What is the first sound? Select one option: a bell, a dog, a siren. Respond with exactly one of the options above.', 'Is there a siren?'].map((p) => tok.encode(p));
    const audio = l2Normalize(await clap.embedAudio(clips()));
    const prefixes = await mapper.forward(audio);
    const onnxPrefixes = await exported.mapper.forward(audio);
    const eosId = exported.manifest.llm.eosTokenId;
    for (const options of [{ maxNewTokens: 12 }, { maxNewTokens: 10, numBeams: 3, noRepeatNgramSize: 2, repetitionPenalty: 2 }]) {
      const prefixT = tf.tensor3d(prefixes.data, prefixes.shape);
      const want = await generateBatch(new CausalLmDecoder(llm), prefixT, prompts, { ...options, eosId });
      prefixT.dispose();
      const got = await generateBatch(exported.llm.decoder(), onnxPrefixes.data, prompts, { ...options, eosId });
      expect(got.map((r) => r.ids)).toEqual(want.map((r) => r.ids));
      expect(got.map((r) => r.finished)).toEqual(want.map((r) => r.finished));
      expect(want.some((r) => r.ids.length > 0)).toBe(true);
    }
  });

  it('refuses an LLM whose LoRA adapter is still live (the export holds the base weights)', async () => {
    const live = loadCausalLM(TINY_WORLD_LM_DIR);
    applyLora(live, { r: 2, alpha: 4 }, new Rng(1));
    await expect(exportModel({ llm: live, mapper }, join(dir, 'live'))).rejects.toThrow(/live LoRA adapter \(module h\.0\.attn\.c_attn\); merge it first/);
    live.dispose();
  });

  describe('bad export folders', () => {
    const copy = (name: string): string => {
      const target = join(dir, name);
      cpSync(join(dir, 'export'), target, { recursive: true });
      return target;
    };
    const manifestOf = (d: string) => JSON.parse(readFileSync(join(d, MANIFEST_FILE), 'utf8'));

    it('a missing file is named', async () => {
      const d = copy('missing');
      rmSync(join(d, 'mapper.onnx'));
      await expect(loadExported(d)).rejects.toThrow(/mapper\.onnx: missing \(named by .*config\.json\)/);
    });

    it('a missing manifest says how to make one', async () => {
      const d = copy('nomanifest');
      rmSync(join(d, MANIFEST_FILE));
      await expect(loadExported(d)).rejects.toThrow(/config\.json: missing .*mats export/);
    });

    it('manifest dimensions that disagree with a graph are named with both values', async () => {
      const d = copy('mismatch');
      const m = manifestOf(d);
      m.llm.vocabSize = 300;
      writeFileSync(join(d, MANIFEST_FILE), JSON.stringify(m));
      await expect(loadExported(d)).rejects.toThrow(/decoder\.onnx: output "logits" has dimension 2 = 226 but the manifest \(llm\.vocabSize\) says 300/);
      const m2 = manifestOf(copy('mismatch2'));
      m2.mapper.prefixLength = 7;
      writeFileSync(join(dir, 'mismatch2', MANIFEST_FILE), JSON.stringify(m2));
      await expect(loadExported(join(dir, 'mismatch2'))).rejects.toThrow(/mapper\.onnx: output "prefix" has dimension 1 = 6 but the manifest \(mapper\.prefixLength \/ mapper\.outDim\) says 7/);
    });

    it('a graph swapped for another part is caught', async () => {
      const d = copy('swapped');
      copyFileSync(join(d, 'clap-text.onnx'), join(d, 'mapper.onnx'));
      await expect(loadExported(d)).rejects.toThrow(/mapper\.onnx: the model has no input "clap_embedding" \(inputs: input_ids, attention_mask\)/);
    });

    it('an unsupported opset in a file is a clear error', async () => {
      const d = copy('opset');
      const g = new Graph('user');
      g.output(g.op('Relu', [g.input('clap_embedding', 'float32', ['batch', 256])]), 'prefix', 'float32', ['batch', 6, 128]);
      writeFileSync(join(d, 'mapper.onnx'), g.toBytes({ opset: 21 }));
      await expect(loadExported(d)).rejects.toThrow(/mapper\.onnx: opset 21 of ai\.onnx is not supported \(expected 14\.\.17/);
      writeFileSync(join(d, 'mapper.onnx'), g.toBytes({ opset: 17, extraOpsets: { 'com.microsoft': 1 } }));
      await expect(loadExported(d)).rejects.toThrow(/operator domain "com\.microsoft" \(version 1\) is not supported/);
      writeFileSync(join(d, 'mapper.onnx'), new Uint8Array([1, 2, 3, 250, 251]));
      await expect(loadExported(d)).rejects.toThrow(/mapper\.onnx: not (a readable )?an? ONNX model|mapper\.onnx: not a readable ONNX model/);
    });

    it('a manifest of another format or with inconsistent fields is rejected', async () => {
      const d = copy('format');
      writeFileSync(join(d, MANIFEST_FILE), JSON.stringify({ ...manifestOf(d), format: 'something-else' }));
      await expect(loadExported(d)).rejects.toThrow(/field "format" is "something-else", expected "mats-onnx-export"/);
      const m = manifestOf(join(dir, 'export'));
      m.mapper.clapDim = 512;
      writeFileSync(join(d, MANIFEST_FILE), JSON.stringify(m));
      await expect(loadExported(d)).rejects.toThrow(/clap\.dim \(256\) must equal mapper\.clapDim \(512\)/);
    });
  });
});
