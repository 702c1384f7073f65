/**
 * ONNX Runtime wrappers for the exported mapper and tiny CLAP encoders, and `loadExported(dir)`,
 * which checks an export folder against its manifest and opens every part.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, createEmbeddings, validateEmbeddings, type Embeddings } from '@mats/core';
import { TinyClapFeatures, WordTokenizer, batchRanges, validateTinyConfig, type ClapEncoder, type TinyClapConfig } from '@mats/clap';
import type { AudioClip } from '@mats/datasets/browser';
import { loadTokenizer, type TextTokenizer } from '@mats/llm-lora';
import { TRANSFER_METHODS, loadMemory, transfer, type SantaMemory, type TransferMethod } from '@mats/santa';
import { generateBatch, type GenerateOptions } from '@mats/llm-lora';
import { CLAP_AUDIO_IO, CLAP_TEXT_IO } from './export-clap.js';
import { DECODER_IO } from './export-gpt2.js';
import { MAPPER_IO } from './export-mapper.js';
import { OrtDecoder, decoderShape } from './decoder.js';
import { type Dim, type ValueInfo } from './graph.js';
import { checkOpsets, inspectModel, type ModelInfo } from './inspect.js';
import { EXPORT_FORMAT, MANIFEST_FILE, validateManifest, type ExportManifest, type TinyClapManifest } from './manifest.js';
import { createSession, loadOnnxRuntime, type OrtModule, type OrtSession, type SessionOptions } from './ort.js';

/** The exported mapper: CLAP embeddings -> prefixes [rows, P, outDim] (normalised inside the graph). */
export class OrtMapper {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly clapDim: number,
    readonly prefixLength: number,
    readonly outDim: number,
  ) {}

  async forward(embeddings: Embeddings, batchSize = 32): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    validateEmbeddings(embeddings, { name: 'OrtMapper.forward input', dim: this.clapDim, nonEmpty: false });
    const row = this.prefixLength * this.outDim;
    const data = new Float32Array(embeddings.rows * row);
    for (const [start, end] of batchRanges(embeddings.rows, batchSize)) {
      const input = new this.ort.Tensor('float32', embeddings.data.slice(start * this.clapDim, end * this.clapDim), [end - start, this.clapDim]);
      const out = await this.session.run({ [MAPPER_IO.input]: input });
      data.set(out[MAPPER_IO.output].data as Float32Array, start * row);
    }
    return { data, shape: [embeddings.rows, this.prefixLength, this.outDim] };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The exported tiny world CLAP as a ClapEncoder: the TypeScript front end of @mats/clap (mean
 * downmix, resample, tile / seeded crop, LogMel; WordTokenizer) feeds the two ONNX graphs.
 */
export class OrtTinyClap implements ClapEncoder {
  readonly dim: number;
  readonly tokenizer: WordTokenizer;
  /** The audio front end (the one TinyClap uses): clip or file -> input signal -> log-mel. */
  readonly features: TinyClapFeatures;
  /** Clips / texts per ONNX Runtime call. */
  readonly batchSize: number;
  /** The crops of clips longer than the window (ClapEncoder.cropRng). */
  readonly cropRng: Rng;

  constructor(
    private readonly ort: OrtModule,
    private readonly audio: OrtSession,
    private readonly text: OrtSession,
    readonly config: TinyClapConfig,
    readonly frames: number,
    options: { batchSize?: number; seed?: number } = {},
  ) {
    this.dim = config.dim;
    this.tokenizer = new WordTokenizer(config.vocab);
    this.features = new TinyClapFeatures(config);
    this.cropRng = new Rng(options.seed ?? 0);
    this.batchSize = options.batchSize ?? 64;
    const expected = this.features.frames;
    if (expected !== frames) throw new Error(`OrtTinyClap: the audio graph takes ${frames} frames but the CLAP config gives ${expected}`);
  }

  get clipSamples(): number {
    return this.features.clipSamples;
  }

  /** Log-mel frames [clips, frames, nMels] of clips (the audio graph's input). */
  melFeatures(clips: AudioClip[]): Float32Array {
    return this.features.ofClips(clips, this.cropRng);
  }

  /** Raw audio embeddings [count, dim] of log-mel frames [count, frames, nMels]. */
  async embedMel(mel: Float32Array, count: number): Promise<Float32Array> {
    const { nMels } = this.config.mel;
    if (mel.length !== count * this.frames * nMels) throw new Error(`OrtTinyClap.embedMel: got ${mel.length} values, expected ${count} x ${this.frames} x ${nMels}`);
    const out = await this.audio.run({ [CLAP_AUDIO_IO.input]: new this.ort.Tensor('float32', mel, [count, this.frames, nMels]) });
    return new Float32Array(out[CLAP_AUDIO_IO.output].data as Float32Array);
  }

  async embedAudio(clips: AudioClip[]): Promise<Embeddings> {
    const out = createEmbeddings(clips.length, this.dim);
    for (const [start, end] of batchRanges(clips.length, this.batchSize)) {
      out.data.set(await this.embedMel(this.melFeatures(clips.slice(start, end)), end - start), start * this.dim);
    }
    return out;
  }

  /**
   * Audio embeddings of files, each read only as far as its crop needs (a 2-hour file costs what its
   * 2 s crop does); the same rows as `embedAudio` of the decoded clips. Errors name the path.
   */
  async embedAudioFiles(paths: string[]): Promise<Embeddings> {
    const out = createEmbeddings(paths.length, this.dim);
    for (const [start, end] of batchRanges(paths.length, this.batchSize)) {
      out.data.set(await this.embedMel(await this.features.ofFiles(paths.slice(start, end), this.cropRng), end - start), start * this.dim);
    }
    return out;
  }

  async embedText(texts: string[]): Promise<Embeddings> {
    const out = createEmbeddings(texts.length, this.dim);
    const len = this.config.text.maxLength;
    for (const [start, end] of batchRanges(texts.length, this.batchSize)) {
      const rows = end - start;
      const { ids, lengths } = this.tokenizer.encodeBatch(texts.slice(start, end), len);
      const ids64 = new BigInt64Array(rows * len);
      const mask = new BigInt64Array(rows * len);
      for (let i = 0; i < rows * len; i++) ids64[i] = BigInt(ids[i]);
      for (let r = 0; r < rows; r++) mask.fill(1n, r * len, r * len + lengths[r]);
      const res = await this.text.run({
        [CLAP_TEXT_IO.inputIds]: new this.ort.Tensor('int64', ids64, [rows, len]),
        [CLAP_TEXT_IO.attentionMask]: new this.ort.Tensor('int64', mask, [rows, len]),
      });
      out.data.set(res[CLAP_TEXT_IO.output].data as Float32Array, start * this.dim);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.audio.release(), this.text.release()]);
  }
}

/** The exported LLM: a new OrtDecoder per concurrent generation, all on one session. */
export class OrtLlm {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly manifest: ExportManifest['llm'],
  ) {}

  decoder(): OrtDecoder {
    return new OrtDecoder(this.ort, this.session, decoderShape(this.manifest));
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** What loadExported opens: the pieces MatsModel holds. */
export interface ExportedModel {
  dir: string;
  manifest: ExportManifest;
  llm: OrtLlm;
  tokenizer: TextTokenizer;
  mapper: OrtMapper;
  /** The tiny CLAP encoders (null when the export has no CLAP or msclap's ONNX files, which @mats/clap OnnxClap opens). */
  clap: OrtTinyClap | null;
  memory: SantaMemory | null;
  dispose(): Promise<void>;
}

export interface LoadExportedOptions extends SessionOptions {
  /** ONNX Runtime module (default: onnxruntime-node, imported lazily). */
  ort?: OrtModule;
  /** CLAP batch size and crop seed. */
  clapBatchSize?: number;
  seed?: number;
}

function describeShape(shape: Dim[] | null): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : 'unknown';
}

/** Checks that `info` has an input/output `name` of type `dtype` whose fixed dims match `expected` (null = any). */
function expectValue(list: ValueInfo[], kind: 'input' | 'output', name: string, dtype: string, expected: (number | null)[], source: string, field: string): void {
  const v = list.find((x) => x.name === name);
  if (!v) throw new Error(`${source}: the model has no ${kind} "${name}" (${kind}s: ${list.map((x) => x.name).join(', ') || 'none'})`);
  if (v.dtype !== dtype) throw new Error(`${source}: ${kind} "${name}" has type ${v.dtype}, expected ${dtype}`);
  if (!v.shape) return;
  if (v.shape.length !== expected.length) throw new Error(`${source}: ${kind} "${name}" has shape ${describeShape(v.shape)}, expected rank ${expected.length}`);
  expected.forEach((e, i) => {
    const got = v.shape![i];
    if (e !== null && typeof got === 'number' && got !== e) {
      throw new Error(`${source}: ${kind} "${name}" has dimension ${i} = ${got} but the manifest (${field}) says ${e}`);
    }
  });
}

function readModel(dir: string, file: string): { bytes: Uint8Array; info: ModelInfo; path: string } {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`${path}: missing (named by ${join(dir, MANIFEST_FILE)})`);
  const bytes = readFileSync(path);
  const info = inspectModel(bytes, path);
  checkOpsets(info, path);
  return { bytes, info, path };
}

/**
 * Whether `dir` is an export folder: its config.json is a manifest (field "format" is
 * "mats-onnx-export"), not a trainer's config. Unreadable or invalid JSON is not an export.
 */
export function isExportFolder(dir: string): boolean {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return false;
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown })?.format === EXPORT_FORMAT;
  } catch {
    return false;
  }
}

/** Reads and validates the manifest of an export folder. */
export function readManifest(dir: string): ExportManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new Error(`${dir}: export folder does not exist`);
  if (!existsSync(path)) throw new Error(`${path}: missing (not an export folder, or the export did not finish; make one with "mats export RUN --out DIR")`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return validateManifest(raw, path);
}

/**
 * Opens an export folder: checks the manifest, that every file it names exists, each graph's opset
 * and its inputs / outputs against the manifest's dimensions, then creates the ONNX Runtime sessions.
 */
export async function loadExported(dir: string, options: LoadExportedOptions = {}): Promise<ExportedModel> {
  const manifest = readManifest(dir);
  const { llm: l, mapper: mp } = manifest;
  const dec = readModel(dir, manifest.files.decoder);
  const D = l.headDim;
  expectValue(dec.info.inputs, 'input', DECODER_IO.inputsEmbeds, 'float32', [null, null, l.nEmbd], dec.path, 'llm.nEmbd');
  expectValue(dec.info.inputs, 'input', DECODER_IO.inputIds, 'int64', [null, null], dec.path, 'llm');
  expectValue(dec.info.inputs, 'input', DECODER_IO.attentionMask, 'int64', [null, null], dec.path, 'llm');
  expectValue(dec.info.inputs, 'input', DECODER_IO.positionIds, 'int64', [null, null], dec.path, 'llm');
  expectValue(dec.info.outputs, 'output', DECODER_IO.logits, 'float32', [null, null, l.vocabSize], dec.path, 'llm.vocabSize');
  const layers = dec.info.inputs.filter((v) => /^past_key_values\.\d+\.key$/.test(v.name)).length;
  if (layers !== l.nLayer) throw new Error(`${dec.path}: the model has ${layers} past_key_values.*.key inputs but the manifest (llm.nLayer) says ${l.nLayer}`);
  for (let i = 0; i < l.nLayer; i++) {
    expectValue(dec.info.inputs, 'input', DECODER_IO.pastKey(i), 'float32', [null, l.nHead, null, D], dec.path, 'llm.nHead / llm.headDim');
    expectValue(dec.info.inputs, 'input', DECODER_IO.pastValue(i), 'float32', [null, l.nHead, null, D], dec.path, 'llm.nHead / llm.headDim');
    expectValue(dec.info.outputs, 'output', DECODER_IO.presentKey(i), 'float32', [null, l.nHead, null, D], dec.path, 'llm.nHead / llm.headDim');
  }
  const map = readModel(dir, manifest.files.mapper);
  expectValue(map.info.inputs, 'input', MAPPER_IO.input, 'float32', [null, mp.clapDim], map.path, 'mapper.clapDim');
  expectValue(map.info.outputs, 'output', MAPPER_IO.output, 'float32', [null, mp.prefixLength, mp.outDim], map.path, 'mapper.prefixLength / mapper.outDim');

  let clapParts: { audio: ReturnType<typeof readModel>; text: ReturnType<typeof readModel>; config: TinyClapConfig; m: TinyClapManifest } | null = null;
  if (manifest.clap?.kind === 'tiny') {
    const m = manifest.clap;
    const audio = readModel(dir, manifest.files.clapAudio!);
    const text = readModel(dir, manifest.files.clapText!);
    expectValue(audio.info.inputs, 'input', CLAP_AUDIO_IO.input, 'float32', [null, m.frames, m.mel.nMels], audio.path, 'clap.frames / clap.mel.nMels');
    expectValue(audio.info.outputs, 'output', CLAP_AUDIO_IO.output, 'float32', [null, m.dim], audio.path, 'clap.dim');
    expectValue(text.info.inputs, 'input', CLAP_TEXT_IO.inputIds, 'int64', [null, m.textMaxLength], text.path, 'clap.textMaxLength');
    expectValue(text.info.outputs, 'output', CLAP_TEXT_IO.output, 'float32', [null, m.dim], text.path, 'clap.dim');
    const configPath = join(dir, manifest.files.clapConfig!);
    if (!existsSync(configPath)) throw new Error(`${configPath}: missing (named by ${join(dir, MANIFEST_FILE)})`);
    const config = validateTinyConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
    if (config.dim !== m.dim) throw new Error(`${configPath}: dim is ${config.dim} but the manifest (clap.dim) says ${m.dim}`);
    if (config.text.maxLength !== m.textMaxLength) throw new Error(`${configPath}: text.maxLength is ${config.text.maxLength} but the manifest (clap.textMaxLength) says ${m.textMaxLength}`);
    clapParts = { audio, text, config, m };
  }
  for (const f of manifest.files.tokenizer) if (!existsSync(join(dir, f))) throw new Error(`${join(dir, f)}: missing (named by ${join(dir, MANIFEST_FILE)})`);
  let memory: SantaMemory | null = null;
  if (manifest.santa) {
    const path = join(dir, manifest.files.santa);
    if (!existsSync(path)) throw new Error(`${path}: missing (named by ${join(dir, MANIFEST_FILE)})`);
    memory = loadMemory(path);
    if (memory.memory.dim !== mp.clapDim) throw new Error(`${path}: the memory holds ${memory.memory.dim}-d embeddings but the manifest (mapper.clapDim) says ${mp.clapDim}`);
  }
  const tokenizer = loadTokenizer(dir);
  if (tokenizer.vocabSize > l.vocabSize) throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but the manifest (llm.vocabSize) says ${l.vocabSize}`);

  const ort = options.ort ?? (await loadOnnxRuntime());
  const opened: OrtSession[] = [];
  const open = async (part: { bytes: Uint8Array; path: string }) => {
    const s = await createSession(ort, part.bytes, options, part.path);
    opened.push(s);
    return s;
  };
  try {
    const llm = new OrtLlm(ort, await open(dec), l);
    const mapper = new OrtMapper(ort, await open(map), mp.clapDim, mp.prefixLength, mp.outDim);
    const clap = clapParts ? new OrtTinyClap(ort, await open(clapParts.audio), await open(clapParts.text), clapParts.config, clapParts.m.frames, { batchSize: options.clapBatchSize, seed: options.seed }) : null;
    return {
      dir,
      manifest,
      llm,
      tokenizer,
      mapper,
      clap,
      memory,
      async dispose() {
        await Promise.all(opened.map((s) => s.release()));
      },
    };
  } catch (err) {
    await Promise.all(opened.map((s) => s.release()));
    throw err;
  }
}

export interface AskExportedItem {
  audio: AudioClip;
  instruction: string;
}

export interface AskExportedOptions {
  /** Modal transfer (default: the manifest's santa.method). */
  method?: TransferMethod;
  /** Generation settings over the manifest's defaults. */
  generation?: Partial<GenerateOptions>;
  /** Items per batch (default 32). */
  batchSize?: number;
}

/**
 * Eq. 3 on ONNX Runtime: tiny CLAP audio embedding -> modal transfer (Santa, with the manifest's
 * settings) -> mapper -> batched generation after the instruction. Returns the decoded answers.
 */
export async function askExported(model: ExportedModel, items: AskExportedItem[], options: AskExportedOptions = {}): Promise<string[]> {
  const { manifest, clap, memory } = model;
  if (!clap) throw new Error(`${model.dir}: the export has no tiny CLAP encoders (open msclap's ONNX files with @mats/clap OnnxClap and pass embeddings)`);
  const s = manifest.santa;
  const method = options.method ?? ((s?.method ?? 'noise-only') as TransferMethod);
  if (!TRANSFER_METHODS.includes(method)) throw new Error(`askExported: unknown method ${JSON.stringify(method)}, expected one of ${TRANSFER_METHODS.join(', ')}`);
  if (method !== 'noise-only' && !memory) throw new Error(`${model.dir}: method "${method}" needs the Santa memory, which the export does not have`);
  const g = manifest.generation;
  const generation = { maxNewTokens: g.maxNewTokens, numBeams: g.numBeams, noRepeatNgramSize: g.noRepeatNgramSize, repetitionPenalty: g.repetitionPenalty, ...options.generation, eosId: manifest.llm.eosTokenId };
  const batchSize = options.batchSize ?? 32;
  const rng = new Rng(`${s?.seed ?? 0}/santa-query`);
  const answers: string[] = [];
  for (const [start, end] of batchRanges(items.length, batchSize)) {
    const batch = items.slice(start, end);
    const audio = await clap.embedAudio(batch.map((i) => i.audio));
    // noise-only is the normalised embedding itself (and the mapper graph normalises its input).
    const z = method === 'noise-only' || !memory ? audio : transfer(method, audio, memory, s ? { topL: s.topL, tau: s.tau, lambda: s.lambda, normalizeAudio: s.normalizeAudio, padClusters: s.padClusters, queryNoise: s.queryNoise, rng } : { rng });
    const prefixes = await model.mapper.forward(z);
    const prompts = batch.map((i) => model.tokenizer.encode(i.instruction));
    const results = await generateBatch(model.llm.decoder(), prefixes.data, prompts, generation);
    for (const r of results) answers.push(r.ids.length > 0 ? model.tokenizer.decode(r.ids).trim() : '');
  }
  return answers;
}
