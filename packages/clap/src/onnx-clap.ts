import { existsSync, statSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { type OrtModule, loadOnnxRuntime } from './ort.js';
import { Rng, createEmbeddings, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { batchRanges, type ClapEncoder } from './encoder.js';
import { MSCLAP_CLIP_SAMPLES, MSCLAP_SAMPLE_RATE, prepareWaveform, type ChannelMode, type WaveformPrepOptions } from './audio-prep.js';
import { prepareFileWaveform } from './audio-files.js';
import { MSCLAP_TEXT_LENGTH, prepareClapText } from './text-prep.js';

/** The ONNX contract of DESIGN.md section 4 (what tools/export_msclap.py writes). */
export const ONNX_CONTRACT = {
  audio: { inputs: [{ name: 'waveform', type: 'float32', length: MSCLAP_CLIP_SAMPLES }] },
  text: {
    inputs: [
      { name: 'input_ids', type: 'int64', length: MSCLAP_TEXT_LENGTH },
      { name: 'attention_mask', type: 'int64', length: MSCLAP_TEXT_LENGTH },
    ],
  },
  dim: 1024,
} as const;

export interface OnnxSessionOptions {
  /** Threads inside one operator (onnxruntime intraOpNumThreads); default: onnxruntime's choice. */
  threads?: number;
  /** Threads across operators (interOpNumThreads). */
  interOpThreads?: number;
  /** e.g. ['cuda', 'cpu'] where the CUDA provider is installed (see the README); default ['cpu']. */
  executionProviders?: string[];
  /** onnxruntime graph optimisation level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface OnnxClapOptions extends OnnxSessionOptions {
  /** Path of the audio encoder .onnx (input `waveform` float32 [batch, 308700]). */
  audioModel: string;
  /** Path of the text encoder .onnx (inputs `input_ids`, `attention_mask` int64 [batch, 77]). */
  textModel: string;
  /** Items per session run (default 8). */
  batchSize?: number;
  /** Seed of the random crop of clips longer than 7 s (default 0). */
  seed?: number;
  /** How channels become one waveform (default 'flatten', msclap's reshape(-1)). */
  channelMode?: ChannelMode;
  /** Where text warnings go (truncation); default process.emitWarning. */
  onWarning?: (message: string) => void;
}

type Metadata = ort.InferenceSession.ValueMetadata;

function describe(meta: readonly Metadata[]): string {
  return meta.map((m) => (m.isTensor ? `${m.name} ${m.type} [${m.shape.join(', ')}]` : `${m.name} (not a tensor)`)).join('; ') || '(none)';
}

/** Throws, naming the file, when a session's inputs/output differ from the contract. Returns the output dim. */
function checkContract(session: ort.InferenceSession, which: 'audio' | 'text', path: string): number {
  const expected = ONNX_CONTRACT[which].inputs;
  const want = expected.map((e) => `${e.name} ${e.type} [batch, ${e.length}]`).join('; ');
  const fail = (why: string): never => {
    throw new Error(`${path}: the ${which} model does not match the msclap ONNX contract: ${why}. Expected inputs: ${want}; got: ${describe(session.inputMetadata)}`);
  };
  const names = session.inputMetadata.map((m) => m.name);
  for (const e of expected) if (!names.includes(e.name)) fail(`input "${e.name}" is missing`);
  for (const name of names) if (!expected.some((e) => e.name === name)) fail(`unexpected input "${name}"`);
  for (const e of expected) {
    const meta = session.inputMetadata.find((m) => m.name === e.name)!;
    if (!meta.isTensor) fail(`input "${e.name}" is not a tensor`);
    const m = meta as ort.InferenceSession.TensorValueMetadata;
    if (m.type !== e.type) fail(`input "${e.name}" has type ${m.type}, expected ${e.type}`);
    if (m.shape.length !== 2) fail(`input "${e.name}" has rank ${m.shape.length}, expected 2`);
    if (typeof m.shape[1] === 'number' && m.shape[1] !== e.length) fail(`input "${e.name}" has length ${m.shape[1]}, expected ${e.length}`);
  }
  if (session.outputMetadata.length !== 1) {
    throw new Error(`${path}: the ${which} model must have exactly one output [batch, ${ONNX_CONTRACT.dim}], got ${describe(session.outputMetadata)}`);
  }
  const out = session.outputMetadata[0];
  if (!out.isTensor || out.type !== 'float32' || out.shape.length !== 2) {
    throw new Error(`${path}: the ${which} model's output must be float32 [batch, dim], got ${describe(session.outputMetadata)}`);
  }
  return typeof out.shape[1] === 'number' ? out.shape[1] : -1;
}

async function openSession(ortLib: OrtModule, path: string, which: 'audio' | 'text', options: OnnxSessionOptions): Promise<ort.InferenceSession> {
  if (!path) throw new Error(`OnnxClap: no ${which} model path given (option ${which}Model)`);
  if (!existsSync(path)) throw new Error(`${path}: ${which} model file not found`);
  if (!statSync(path).isFile()) throw new Error(`${path}: ${which} model path is not a file`);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
  };
  if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
  if (options.interOpThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpThreads;
  try {
    return await ortLib.InferenceSession.create(path, sessionOptions);
  } catch (err) {
    throw new Error(`${path}: onnxruntime could not load the ${which} model: ${(err as Error).message}`);
  }
}

/**
 * msclap's audio and text encoders exported to ONNX, run with onnxruntime-node. Audio is prepared as
 * msclap's CLAPWrapper does (44.1 kHz, channels flattened, tiled / seeded crop to 7 s); text is
 * GPT-2 BPE with ' <|endoftext|>' appended, padded with id 0 to 77.
 */
export class OnnxClap implements ClapEncoder {
  readonly dim: number;
  readonly batchSize: number;
  /** The crops of clips longer than the window (ClapEncoder.cropRng). */
  readonly cropRng: Rng;
  private disposed = false;

  private constructor(
    private readonly ortLib: OrtModule,
    private readonly audio: ort.InferenceSession,
    private readonly text: ort.InferenceSession,
    dim: number,
    private readonly options: OnnxClapOptions,
  ) {
    this.dim = dim;
    this.batchSize = options.batchSize ?? 8;
    this.cropRng = new Rng(options.seed ?? 0);
  }

  static async create(options: OnnxClapOptions): Promise<OnnxClap> {
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`OnnxClap: batchSize must be a positive integer, got ${batchSize}`);
    const ortLib = await loadOnnxRuntime();
    const audio = await openSession(ortLib, options.audioModel, 'audio', options);
    let text: ort.InferenceSession;
    try {
      text = await openSession(ortLib, options.textModel, 'text', options);
    } catch (err) {
      await audio.release();
      throw err;
    }
    try {
      const audioDim = checkContract(audio, 'audio', options.audioModel);
      const textDim = checkContract(text, 'text', options.textModel);
      if (audioDim > 0 && textDim > 0 && audioDim !== textDim) {
        throw new Error(`OnnxClap: the audio model embeds into ${audioDim} dimensions (${options.audioModel}) but the text model into ${textDim} (${options.textModel})`);
      }
      const dim = audioDim > 0 ? audioDim : textDim > 0 ? textDim : ONNX_CONTRACT.dim;
      return new OnnxClap(ortLib, audio, text, dim, options);
    } catch (err) {
      await audio.release();
      await text.release();
      throw err;
    }
  }

  async embedAudio(clips: AudioClip[]): Promise<Embeddings> {
    this.checkOpen();
    return this.embedWaveforms(clips.length, async (i) => prepareWaveform(clips[i], this.cropRng, this.waveformOptions, i));
  }

  /**
   * Audio embeddings of files, read one at a time and only as far as the 7 s crop needs; the same
   * rows as `embedAudio` of the decoded clips. Errors name the path.
   */
  async embedAudioFiles(paths: string[]): Promise<Embeddings> {
    this.checkOpen();
    return this.embedWaveforms(paths.length, (i) => prepareFileWaveform(paths[i], this.cropRng, this.waveformOptions));
  }

  private get waveformOptions(): WaveformPrepOptions {
    return { sampleRate: MSCLAP_SAMPLE_RATE, samples: MSCLAP_CLIP_SAMPLES, channelMode: this.options.channelMode };
  }

  private async embedWaveforms(count: number, prepare: (i: number) => Promise<Float32Array>): Promise<Embeddings> {
    const out = createEmbeddings(count, this.dim);
    for (const [start, end] of batchRanges(count, this.batchSize)) {
      const batch = new Float32Array((end - start) * MSCLAP_CLIP_SAMPLES);
      for (let i = start; i < end; i++) batch.set(await prepare(i), (i - start) * MSCLAP_CLIP_SAMPLES);
      const feeds = { waveform: new this.ortLib.Tensor('float32', batch, [end - start, MSCLAP_CLIP_SAMPLES]) };
      const result = await this.audio.run(feeds);
      out.data.set(this.readOutput(result, this.audio, end - start, 'audio'), start * this.dim);
    }
    return out;
  }

  async embedText(texts: string[]): Promise<Embeddings> {
    this.checkOpen();
    const out = createEmbeddings(texts.length, this.dim);
    for (const [start, end] of batchRanges(texts.length, this.batchSize)) {
      const prepared = prepareClapText(texts.slice(start, end), { onWarning: this.options.onWarning });
      const shape = [end - start, MSCLAP_TEXT_LENGTH];
      const feeds = {
        input_ids: new this.ortLib.Tensor('int64', prepared.inputIds, shape),
        attention_mask: new this.ortLib.Tensor('int64', prepared.attentionMask, shape),
      };
      const result = await this.text.run(feeds);
      out.data.set(this.readOutput(result, this.text, end - start, 'text'), start * this.dim);
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.audio.release();
    await this.text.release();
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error('OnnxClap: used after dispose()');
  }

  private readOutput(result: ort.InferenceSession.OnnxValueMapType, session: ort.InferenceSession, rows: number, which: string): Float32Array {
    const value = result[session.outputNames[0]] as ort.Tensor;
    const dims = value.dims;
    if (dims.length !== 2 || dims[0] !== rows || dims[1] !== this.dim) {
      throw new Error(`OnnxClap: the ${which} model returned shape [${dims.join(', ')}], expected [${rows}, ${this.dim}]`);
    }
    return value.data as Float32Array;
  }
}
