/**
 * Export of a trained run (or of loaded components) to a folder of ONNX files plus Santa's memory,
 * the tokenizer files and a manifest. See README "ONNX export".
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, writeFileAtomic } from '@mats/core';
import { LogMel, validateTinyConfig, type TinyClapConfig } from '@mats/clap';
import { LoraProjection, type CausalLM, type Gpt2Config } from '@mats/llm-lora';
import type { TransformerMapper } from '@mats/mapper';
import { loadMemory, saveMemory } from '@mats/santa';
import { MatsModel, type LoadOptions } from '../model.js';
import { RUN_FILES, resolveComponent } from '../files.js';
import { exportGpt2Decoder, type HostTensor } from './export-gpt2.js';
import { exportMapper } from './export-mapper.js';
import { exportTinyClapAudio, exportTinyClapText } from './export-clap.js';
import { checkOpsets, inspectModel } from './inspect.js';
import { EXPORT_OPSET } from './ops.js';
import {
  EXPORT_FILES,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  MANIFEST_FILE,
  type ExportManifest,
  type GenerationDefaults,
  type LlmManifest,
  type SantaManifest,
  type TinyClapManifest,
} from './manifest.js';

const PRODUCER = '@mats/model 0.1.0';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json'];

export const DEFAULT_GENERATION: GenerationDefaults = { maxNewTokens: 200, numBeams: 1, noRepeatNgramSize: 0, repetitionPenalty: 1 };

/** Host copies of every base tensor of the model, by HF name. */
export async function hostWeights(model: CausalLM): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of model.weights) out.set(name, { data: (await v.data()) as Float32Array, shape: [...v.shape] });
  return out;
}

export function llmManifest(config: Gpt2Config): LlmManifest {
  return {
    vocabSize: config.vocabSize,
    nPositions: config.nPositions,
    nEmbd: config.nEmbd,
    nLayer: config.nLayer,
    nHead: config.nHead,
    headDim: config.nEmbd / config.nHead,
    nInner: config.nInner,
    layerNormEpsilon: config.layerNormEpsilon,
    eosTokenId: config.eosTokenId,
  };
}

export type ClapSource = { kind: 'tiny'; dir: string } | { kind: 'onnx'; audioModel: string; textModel: string; dim: number };

/** Loaded components to export. */
export interface ExportParts {
  /** The LLM with its LoRA adapter merged (no adapter attached). */
  llm: CausalLM;
  /** Folder whose tokenizer files are copied (the LLM folder); none: the GPT-2 BPE is implied. */
  tokenizerDir?: string;
  mapper: TransformerMapper;
  clap?: ClapSource | null;
  /** santa.safetensors of the run, copied as is. */
  santaFile?: string | null;
  santa?: Omit<SantaManifest, 'k' | 'memoryRows'> | null;
  generation?: Partial<GenerationDefaults>;
  sourceRun?: string | null;
  /** The trainer's config.json of the source run, copied as run-config.json (the evaluator's settings). */
  runConfigFile?: string | null;
}

function writeOnnx(path: string, bytes: Uint8Array): void {
  // The file must be one ONNX Runtime and onnxruntime-web accept: check what we wrote declares it.
  checkOpsets(inspectModel(bytes, path), path);
  writeFileAtomic(path, bytes);
}

/** Writes the export folder for loaded components; returns the manifest written. */
export async function exportModel(parts: ExportParts, outDir: string): Promise<ExportManifest> {
  const { llm, mapper } = parts;
  const live = llm.namedModules().find(([, m]) => m instanceof LoraProjection);
  if (live) throw new Error(`export: the LLM still has a live LoRA adapter (module ${live[0]}); merge it first (mergeLora), the export holds the base weights`);
  if (mapper.config.outDim !== llm.config.nEmbd) throw new Error(`export: the mapper outputs ${mapper.config.outDim}-d vectors but the LLM's n_embd is ${llm.config.nEmbd}`);
  mkdirSync(outDir, { recursive: true });
  const files: ExportManifest['files'] = { decoder: EXPORT_FILES.decoder, mapper: EXPORT_FILES.mapper, santa: EXPORT_FILES.santa, tokenizer: [] };

  writeOnnx(join(outDir, EXPORT_FILES.decoder), exportGpt2Decoder(llm.config, await hostWeights(llm), { 'mats.part': 'decoder' }));
  writeOnnx(join(outDir, EXPORT_FILES.mapper), exportMapper(mapper.config, mapper.getWeights(), { 'mats.part': 'mapper' }));

  let clap: ExportManifest['clap'] = null;
  if (parts.clap?.kind === 'tiny') {
    const { config, weights } = readTinyClap(parts.clap.dir);
    const mel = new LogMel({ sampleRate: config.sampleRate, ...config.mel });
    const frames = mel.frames(Math.round(config.sampleRate * config.clipSeconds));
    writeOnnx(join(outDir, EXPORT_FILES.clapAudio), exportTinyClapAudio(config, weights, frames));
    writeOnnx(join(outDir, EXPORT_FILES.clapText), exportTinyClapText(config, weights));
    copyFileSync(join(parts.clap.dir, 'config.json'), join(outDir, EXPORT_FILES.clapConfig));
    Object.assign(files, { clapAudio: EXPORT_FILES.clapAudio, clapText: EXPORT_FILES.clapText, clapConfig: EXPORT_FILES.clapConfig });
    const tiny: TinyClapManifest = { kind: 'tiny', dim: config.dim, sampleRate: config.sampleRate, clipSeconds: config.clipSeconds, frames, mel: { ...config.mel }, textMaxLength: config.text.maxLength };
    clap = tiny;
  } else if (parts.clap?.kind === 'onnx') {
    for (const [key, src] of [['clapAudio', parts.clap.audioModel], ['clapText', parts.clap.textModel]] as const) {
      if (!existsSync(src)) throw new Error(`export: CLAP ONNX file ${src} does not exist`);
      checkOpsets(inspectModel(readFileSync(src), src), src);
      copyFileSync(src, join(outDir, EXPORT_FILES[key]));
      files[key] = EXPORT_FILES[key];
    }
    clap = { kind: 'onnx', dim: parts.clap.dim };
  }
  if (clap && clap.dim !== mapper.config.clapDim) throw new Error(`export: the CLAP model gives ${clap.dim}-d embeddings but the mapper expects ${mapper.config.clapDim}-d`);

  let santa: SantaManifest | null = null;
  if (parts.santaFile) {
    const memory = loadMemory(parts.santaFile);
    if (memory.memory.dim !== mapper.config.clapDim) throw new Error(`export: ${parts.santaFile} holds ${memory.memory.dim}-d embeddings but the mapper expects ${mapper.config.clapDim}-d`);
    copyFileSync(parts.santaFile, join(outDir, EXPORT_FILES.santa));
    santa = { ...(parts.santa ?? { method: 'santa', topL: 32, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: 0, noiseVariance: 0, seed: 0 }), k: memory.centroids.rows, memoryRows: memory.memory.rows };
  }
  if (parts.runConfigFile) {
    copyFileSync(parts.runConfigFile, join(outDir, EXPORT_FILES.runConfig));
    files.runConfig = EXPORT_FILES.runConfig;
  }
  if (parts.tokenizerDir) {
    for (const f of TOKENIZER_FILES) {
      if (existsSync(join(parts.tokenizerDir, f))) {
        copyFileSync(join(parts.tokenizerDir, f), join(outDir, f));
        files.tokenizer.push(f);
      }
    }
  }
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    opset: EXPORT_OPSET,
    producer: PRODUCER,
    createdAt: new Date().toISOString(),
    sourceRun: parts.sourceRun ?? null,
    files,
    llm: llmManifest(llm.config),
    mapper: { clapDim: mapper.config.clapDim, prefixLength: mapper.config.prefixLength, outDim: mapper.config.outDim, normalizesInput: true },
    clap,
    santa,
    generation: { ...DEFAULT_GENERATION, ...(parts.generation ?? {}) },
  };
  // The manifest comes last: a folder without it is an unfinished export.
  writeFileAtomic(join(outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** The tiny CLAP folder's config and weights (names of @mats/clap parameterShapes). */
export function readTinyClap(dir: string): { config: TinyClapConfig; weights: Map<string, Float32Array> } {
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(configPath)) throw new Error(`${configPath}: tiny CLAP config not found`);
  if (!existsSync(weightsPath)) throw new Error(`${weightsPath}: tiny CLAP weights not found`);
  const config = validateTinyConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(weightsPath).tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${weightsPath}: tensor "${name}" has dtype ${t.dtype}, expected floating point`);
    weights.set(name, t.data);
  }
  return { config, weights };
}

export interface ExportRunOptions {
  /** Options for opening the run (e.g. llmDir / clapDir when the run was moved). */
  load?: LoadOptions;
}

/**
 * The export of an open MatsModel: its merged LLM, mapper, CLAP (the tiny world CLAP's two graphs,
 * or msclap's ONNX files copied), Santa's memory and settings, and generation defaults.
 */
export async function exportMatsModel(model: MatsModel, outDir: string, sourceRun: string | null = null): Promise<ExportManifest> {
  const { spec } = model;
  // Component paths of a saved model may name package assets (asset:tiny-clap-world).
  const where = { runDir: sourceRun ?? process.cwd() };
  const memoryFile = join(outDir, `.${EXPORT_FILES.santa}.source`);
  mkdirSync(outDir, { recursive: true });
  saveMemory(memoryFile, model.memory);
  try {
    const g = spec.generation;
    const c = spec.clap;
    return await exportModel(
      {
        llm: model.llm,
        tokenizerDir: resolveComponent(spec.llm.dir, where, 'llm.dir'),
        mapper: model.mapper,
        clap:
          c.kind === 'tiny'
            ? { kind: 'tiny', dir: resolveComponent(c.dir, where, 'clap.dir') }
            : { kind: 'onnx', audioModel: resolveComponent(c.audioModel, where, 'clap.audioModel'), textModel: resolveComponent(c.textModel, where, 'clap.textModel'), dim: model.dim },
        santaFile: memoryFile,
        santa: { method: spec.method, ...spec.santa, noiseVariance: spec.noiseVariance, seed: spec.seed },
        generation: { maxNewTokens: g.maxNewTokens, numBeams: g.strategy === 'beam' ? g.beams : 1, noRepeatNgramSize: g.noRepeatNgram, repetitionPenalty: g.repetitionPenalty },
        sourceRun,
        // A trainer's run folder has its config.json (a folder written by save has model.json instead).
        runConfigFile: sourceRun && existsSync(join(sourceRun, RUN_FILES.config)) ? join(sourceRun, RUN_FILES.config) : null,
      },
      outDir,
    );
  } finally {
    rmSync(memoryFile, { force: true });
  }
}

/**
 * Exports a trained run folder (opened with MatsModel.load: the adapter is merged) to `outDir`:
 * decoder.onnx, mapper.onnx, the tiny CLAP encoders for the world (or the msclap ONNX files copied),
 * santa.safetensors, the tokenizer files and config.json (the manifest).
 */
export async function exportRun(runDir: string, outDir: string, options: ExportRunOptions = {}): Promise<ExportManifest> {
  if (!existsSync(runDir)) throw new Error(`export: run folder ${runDir} does not exist`);
  const dir = realpathSync(runDir);
  const model = await MatsModel.load(dir, options.load);
  if (model.engine === 'onnx') {
    await model.dispose();
    throw new Error(`export: ${dir} is already an ONNX export folder (its config.json is an export manifest); export the run folder it was made from`);
  }
  try {
    return await exportMatsModel(model, resolve(outDir), dir);
  } finally {
    await model.dispose();
  }
}
