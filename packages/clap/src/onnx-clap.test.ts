import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { readSafetensors, getFloatTensor, type Embeddings } from '@mats/core';
import { fileURLToPath } from 'node:url';
import { OnnxClap } from './onnx-clap.js';
import { prepareClapText } from './text-prep.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const ref = readSafetensors(fixture('onnx_reference.safetensors'));
const texts: string[] = JSON.parse(ref.metadata.texts);
const clipA = { sampleRate: 44100, channels: [getFloatTensor(ref, 'clip_a')] };
const clipB = { sampleRate: 44100, channels: [getFloatTensor(ref, 'clip_b_left'), getFloatTensor(ref, 'clip_b_right')] };
const clipC = { sampleRate: 44100, channels: [getFloatTensor(ref, 'clip_c')] };

function maxAbsDiff(e: Embeddings, expected: Float32Array): number {
  expect(e.data.length).toBe(expected.length);
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(e.data[i] - expected[i]));
  return m;
}

describe('OnnxClap with the fixture model pair', () => {
  let clap: OnnxClap;
  beforeAll(async () => {
    clap = await OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), batchSize: 3, threads: 1 });
  });
  afterAll(async () => clap.dispose());

  it('embeds audio as PyTorch does, batch 3 and batch 1, within 1e-4', async () => {
    expect(clap.dim).toBe(1024);
    const three = await clap.embedAudio([clipA, clipB, clipC]);
    expect([three.rows, three.dim]).toEqual([3, 1024]);
    expect(maxAbsDiff(three, getFloatTensor(ref, 'audio_batch3'))).toBeLessThan(1e-4);
    const one = await clap.embedAudio([clipA]);
    expect(maxAbsDiff(one, getFloatTensor(ref, 'audio_batch1'))).toBeLessThan(1e-4);
  });

  it('batches by batchSize without changing results', async () => {
    const small = await OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), batchSize: 2 });
    try {
      expect(maxAbsDiff(await small.embedAudio([clipA, clipB, clipC]), getFloatTensor(ref, 'audio_batch3'))).toBeLessThan(1e-4);
      expect(maxAbsDiff(await small.embedText(texts), getFloatTensor(ref, 'text_batch3'))).toBeLessThan(1e-4);
    } finally {
      await small.dispose();
    }
  });

  it('embeds a stereo clip with the mean downmix when asked', async () => {
    const mean = await OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), channelMode: 'mean' });
    try {
      expect(maxAbsDiff(await mean.embedAudio([clipB]), getFloatTensor(ref, 'audio_b_mean'))).toBeLessThan(1e-4);
    } finally {
      await mean.dispose();
    }
  });

  it('embeds text as PyTorch does, batch 3 and batch 1, within 1e-4', async () => {
    const prepared = prepareClapText(texts);
    expect(Array.from(prepared.inputIds)).toEqual(Array.from(ref.tensors.get('input_ids')!.data as BigInt64Array));
    expect(Array.from(prepared.attentionMask)).toEqual(Array.from(ref.tensors.get('attention_mask')!.data as BigInt64Array));
    const three = await clap.embedText(texts);
    expect(maxAbsDiff(three, getFloatTensor(ref, 'text_batch3'))).toBeLessThan(1e-4);
    const one = await clap.embedText(texts.slice(0, 1));
    expect(maxAbsDiff(one, getFloatTensor(ref, 'text_batch1'))).toBeLessThan(1e-4);
  });

  it('returns raw (not unit-norm) embeddings and an empty batch for no input', async () => {
    const e = await clap.embedText(['a dog barks']);
    let s = 0;
    for (const v of e.data) s += v * v;
    expect(Math.abs(Math.sqrt(s) - 1)).toBeGreaterThan(0.1);
    expect((await clap.embedAudio([])).rows).toBe(0);
  });

  it('rejects bad clips with the clip index', async () => {
    await expect(clap.embedAudio([clipA, { sampleRate: 44100, channels: [new Float32Array(0)] }])).rejects.toThrow('audio clip 1: is empty (0 samples)');
    await expect(clap.embedAudio([{ sampleRate: 0, channels: [new Float32Array(10)] }])).rejects.toThrow(/audio clip 0: sampleRate must be a positive number of Hz, got 0/);
  });
});

describe('OnnxClap bad models', () => {
  it('names a missing model file', async () => {
    await expect(OnnxClap.create({ audioModel: fixture('nope.onnx'), textModel: fixture('tiny_text.onnx') })).rejects.toThrow(/nope\.onnx: audio model file not found/);
    await expect(OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('missing_text.onnx') })).rejects.toThrow(/missing_text\.onnx: text model file not found/);
  });

  it('names the contract mismatch of an audio model with the wrong input', async () => {
    await expect(OnnxClap.create({ audioModel: fixture('bad_audio_input.onnx'), textModel: fixture('tiny_text.onnx') })).rejects.toThrow(
      /bad_audio_input\.onnx: the audio model does not match the msclap ONNX contract: input "waveform" is missing\. Expected inputs: waveform float32 \[batch, 308700\]; got: audio float32 \[batch, 16000\]/,
    );
  });

  it('names a text model without attention_mask', async () => {
    await expect(OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('bad_text_inputs.onnx') })).rejects.toThrow(
      /bad_text_inputs\.onnx: the text model does not match the msclap ONNX contract: input "attention_mask" is missing/,
    );
  });

  it('swapped models are caught too', async () => {
    await expect(OnnxClap.create({ audioModel: fixture('tiny_text.onnx'), textModel: fixture('tiny_audio.onnx') })).rejects.toThrow(/the audio model does not match/);
  });

  it('rejects a file that is not ONNX', async () => {
    await expect(OnnxClap.create({ audioModel: fixture('logmel_reference.safetensors'), textModel: fixture('tiny_text.onnx') })).rejects.toThrow(/onnxruntime could not load the audio model/);
  });
});
