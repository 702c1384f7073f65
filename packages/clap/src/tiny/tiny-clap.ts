import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng, assertFiniteTensors, createEmbeddings, parseJson, getFloatTensor, readSafetensors, writeFileAtomic, writeSafetensors, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets/browser';
import { batchRanges, type ClapEncoder } from '../encoder.js';
import { type WaveformPrepOptions } from '../audio-prep.js';
import { type LogMel } from '../mel.js';
import { TinyClapFeatures } from './features.js';
import { WordTokenizer } from './tokenizer.js';
import { audioColumns, audioForward, parameterShapes, textForward, type Params, type TinyClapConfig } from './model.js';

export const TINY_CONFIG_FILE = 'config.json';
export const TINY_WEIGHTS_FILE = 'model.safetensors';

export interface TinyClapOptions {
  /** Items per forward pass (default 64). */
  batchSize?: number;
  /** Seed of the random crop of clips longer than clipSeconds (default 0). */
  seed?: number;
}

/** Checks a parsed config.json and names the first bad field. */
export function validateTinyConfig(c: unknown, source = TINY_CONFIG_FILE): TinyClapConfig {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!c || typeof c !== 'object') fail('is not a JSON object');
  const cfg = c as TinyClapConfig;
  if (cfg.format !== 'mats-tiny-clap') fail(`field "format" must be "mats-tiny-clap", got ${JSON.stringify(cfg.format)}`);
  if (cfg.version !== 1) fail(`field "version" must be 1, got ${JSON.stringify(cfg.version)}`);
  const positive = (path: string, v: unknown) => {
    if (typeof v !== 'number' || !(v > 0)) fail(`field "${path}" must be a positive number, got ${JSON.stringify(v)}`);
  };
  positive('sampleRate', cfg.sampleRate);
  positive('clipSeconds', cfg.clipSeconds);
  positive('dim', cfg.dim);
  if (!cfg.mel || typeof cfg.mel !== 'object') fail('field "mel" is missing');
  for (const k of ['nFft', 'hopLength', 'nMels', 'amin'] as const) positive(`mel.${k}`, cfg.mel[k]);
  if (!cfg.audio || !cfg.text) fail('fields "audio" and "text" are required');
  positive('audio.channels', cfg.audio.channels);
  positive('audio.kernel', cfg.audio.kernel);
  positive('text.width', cfg.text.width);
  positive('text.maxLength', cfg.text.maxLength);
  positive('text.kernel', cfg.text.kernel);
  if (!Array.isArray(cfg.vocab) || cfg.vocab.some((w) => typeof w !== 'string')) fail('field "vocab" must be an array of strings');
  return cfg;
}

/**
 * The tiny CLAP of the synthetic world (tfjs): a log-mel + 1-D conv audio encoder and a word-level
 * text encoder, each ending in msclap's projection head (so raw outputs are LayerNorm-scaled, not
 * unit-norm). Train with `trainTinyClap`; save/load as config.json + model.safetensors.
 */
export class TinyClap implements ClapEncoder {
  readonly config: TinyClapConfig;
  readonly tokenizer: WordTokenizer;
  readonly dim: number;
  readonly batchSize: number;
  /** The audio front end: clip or file -> input signal -> log-mel. */
  readonly features: TinyClapFeatures;
  private readonly params: Params;
  /** The crops of clips longer than the window (ClapEncoder.cropRng). */
  readonly cropRng: Rng;
  private disposed = false;

  constructor(config: TinyClapConfig, params: Params, options: TinyClapOptions = {}) {
    this.config = config;
    this.tokenizer = new WordTokenizer(config.vocab);
    this.dim = config.dim;
    this.params = params;
    this.batchSize = options.batchSize ?? 64;
    if (!Number.isInteger(this.batchSize) || this.batchSize <= 0) throw new Error(`TinyClap: batchSize must be a positive integer, got ${this.batchSize}`);
    this.cropRng = new Rng(options.seed ?? 0);
    this.features = new TinyClapFeatures(config);
    const shapes = parameterShapes(config);
    for (const [name, shape] of Object.entries(shapes)) {
      const t = params.get(name);
      if (!t) throw new Error(`TinyClap: missing parameter "${name}"`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`TinyClap: parameter "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      }
    }
  }

  get logMel(): LogMel {
    return this.features.logMel;
  }

  /** Samples per clip after preparation. */
  get clipSamples(): number {
    return this.features.clipSamples;
  }

  /** Frames of the log-mel of one prepared clip. */
  get frames(): number {
    return this.features.frames;
  }

  /** Reads a model directory written by `save` (config.json + model.safetensors). */
  static load(dir: string, options: TinyClapOptions = {}): TinyClap {
    const configPath = join(dir, TINY_CONFIG_FILE);
    const weightsPath = join(dir, TINY_WEIGHTS_FILE);
    if (!existsSync(configPath)) throw new Error(`${configPath}: tiny CLAP config not found`);
    if (!existsSync(weightsPath)) throw new Error(`${weightsPath}: tiny CLAP weights not found`);
    let raw: unknown;
    try {
      raw = parseJson(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new Error(`${configPath}: not valid JSON: ${(err as Error).message}`);
    }
    const config = validateTinyConfig(raw, configPath);
    const file = readSafetensors(weightsPath);
    assertFiniteTensors(file, weightsPath);
    const params: Params = new Map();
    for (const [name, shape] of Object.entries(parameterShapes(config))) {
      params.set(name, tf.tensor(getFloatTensor(file, name, shape, weightsPath), shape));
    }
    return new TinyClap(config, params, options);
  }

  /** Writes config.json and model.safetensors into `dir` (each atomically). */
  save(dir: string, metadata: Record<string, string> = {}): void {
    this.checkOpen();
    mkdirSync(dir, { recursive: true });
    const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, shape] of Object.entries(parameterShapes(this.config))) {
      tensors[name] = { data: this.params.get(name)!.dataSync() as Float32Array, shape };
    }
    writeSafetensors(join(dir, TINY_WEIGHTS_FILE), tensors, { format: 'mats-tiny-clap', ...metadata });
    writeFileAtomic(join(dir, TINY_CONFIG_FILE), `${JSON.stringify(this.config, null, 1)}\n`);
  }

  /** How a clip becomes the model's input signal: mean downmix, resample to config.sampleRate, tile or seeded crop to clipSeconds. */
  get waveformOptions(): WaveformPrepOptions {
    return this.features.waveformOptions;
  }

  /**
   * One clip -> the model's input signal: mean downmix, resample to config.sampleRate (torchaudio's
   * resampler), tile or seeded-crop to clipSeconds. `name` (a path, or the clip's index) is named in errors.
   */
  prepareClip(clip: AudioClip, name: string | number = 0, rng: Rng = this.cropRng): Float32Array {
    return this.features.prepareClip(clip, rng, name);
  }

  /** Log-mel features of clips, row-major [clips, frames, nMels]. */
  melFeatures(clips: AudioClip[], rng: Rng = this.cropRng): Float32Array {
    return this.features.ofClips(clips, rng);
  }

  async embedAudio(clips: AudioClip[]): Promise<Embeddings> {
    this.checkOpen();
    const out = createEmbeddings(clips.length, this.dim);
    for (const [start, end] of batchRanges(clips.length, this.batchSize)) {
      const mel = this.melFeatures(clips.slice(start, end));
      out.data.set(await this.embedMel(mel, end - start), start * this.dim);
    }
    return out;
  }

  /**
   * Audio embeddings of files, read one at a time and only as far as the crop needs (a 2-hour file
   * costs what its 2 s crop does); the same rows as `embedAudio` of the decoded clips. Errors name the path.
   */
  async embedAudioFiles(paths: string[]): Promise<Embeddings> {
    this.checkOpen();
    const out = createEmbeddings(paths.length, this.dim);
    for (const [start, end] of batchRanges(paths.length, this.batchSize)) {
      const mel = await this.features.ofFiles(paths.slice(start, end), this.cropRng);
      out.data.set(await this.embedMel(mel, end - start), start * this.dim);
    }
    return out;
  }

  /** Embeddings of precomputed log-mel features [count, frames, nMels]. */
  async embedMel(mel: Float32Array, count: number): Promise<Float32Array> {
    this.checkOpen();
    const { nMels } = this.config.mel;
    if (mel.length !== count * this.frames * nMels) {
      throw new Error(`TinyClap.embedMel: got ${mel.length} values, expected ${count} x ${this.frames} x ${nMels}`);
    }
    return this.embedColumns(await this.columns(mel, count), count);
  }

  /** The audio encoder's (constant) first-layer input for log-mel features; see audioColumns. */
  async columns(mel: Float32Array, count: number): Promise<Float32Array> {
    // Asynchronous reads throughout: tfjs-webgpu cannot read a GPU tensor synchronously in Node.
    const mean = (await this.params.get('audio.mel_mean')!.data()) as Float32Array;
    const std = (await this.params.get('audio.mel_std')!.data()) as Float32Array;
    return audioColumns(mel, count, this.frames, this.config.mel.nMels, this.config.audio.kernel, mean, std);
  }

  /** Embeddings from audio columns [count, ceil(frames / 2), kernel * nMels]. */
  async embedColumns(columns: Float32Array, count: number): Promise<Float32Array> {
    const shape: [number, number, number] = [count, Math.ceil(this.frames / 2), this.config.audio.kernel * this.config.mel.nMels];
    const result = tf.tidy(() => audioForward(this.params, tf.tensor3d(columns, shape)));
    try {
      return (await result.data()) as Float32Array;
    } finally {
      result.dispose();
    }
  }

  async embedText(texts: string[]): Promise<Embeddings> {
    this.checkOpen();
    const out = createEmbeddings(texts.length, this.dim);
    const len = this.config.text.maxLength;
    for (const [start, end] of batchRanges(texts.length, this.batchSize)) {
      const { ids, lengths } = this.tokenizer.encodeBatch(texts.slice(start, end), len);
      const rows = end - start;
      const mask = new Float32Array(rows * len);
      for (let r = 0; r < rows; r++) mask.fill(1, r * len, r * len + lengths[r]);
      const result = tf.tidy(() => textForward(this.params, tf.tensor2d(ids, [rows, len], 'int32'), tf.tensor2d(mask, [rows, len])));
      try {
        out.data.set((await result.data()) as Float32Array, start * this.dim);
      } finally {
        result.dispose();
      }
    }
    return out;
  }

  /** exp(logit_scale): the learned inverse temperature (a synchronous read: cpu / wasm / tensorflow backends). */
  get logitScale(): number {
    return Math.exp(this.params.get('logit_scale')!.dataSync()[0]);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.params.values()) t.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error('TinyClap: used after dispose()');
  }
}
