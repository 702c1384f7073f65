/**
 * What a MATS model is made of, as data: which CLAP and LLM, the mapper shape, the LoRA adapter, how
 * Santa transfers audio embeddings, and how answers are generated. A run folder's `config.json` (the
 * trainer's full config) maps onto it with `modelSpecFromConfig`, the one place where config field
 * names become model options.
 */
import { TINY_CLAP_WORLD_DIR } from '@mats/clap';
import { TINY_WORLD_LM_DIR } from '@mats/llm-lora';
import type { TransferMethod } from '@mats/santa';

export type ClapComponent =
  | { kind: 'tiny'; dir: string; batchSize: number }
  | { kind: 'onnx'; audioModel: string; textModel: string; batchSize: number; threads: number; executionProviders: string[] };

export interface SantaSettings {
  /** L: retrieved memory entries per query. */
  topL: number;
  tau: number;
  lambda: number;
  normalizeAudio: boolean;
  padClusters: boolean;
  /** Fresh noise of this variance on the retrieved members at every query (official code); 0 = off. */
  queryNoise: number;
}

export interface GenerationSettings {
  strategy: 'greedy' | 'beam';
  beams: number;
  maxNewTokens: number;
  /** 0 disables the rule. */
  noRepeatNgram: number;
  /** 1 disables the penalty. */
  repetitionPenalty: number;
}

export interface MapperSettings {
  layers: number;
  prefixLength: number;
  clipLength: number;
  /** Transformer width; null = the LLM's embedding size. */
  width: number | null;
  heads: number;
  mlpRatio: number;
  /** MATS's extra linear projection width -> LLM size. */
  projection: boolean;
}

export interface LoraSettings {
  rank: number;
  alpha: number;
  dropout: number;
  targets: string[];
}

export interface MatsModelSpec {
  seed: number;
  clap: ClapComponent;
  /** A Hugging Face GPT-2 folder. */
  llm: { dir: string };
  mapper: MapperSettings;
  lora: LoraSettings;
  /** Noise variance of training (eq. 2); 0 for a run trained without noise or on audio. */
  noiseVariance: number;
  /** `text` (MATS) or `audio` (MATS-Audio: no modal transfer needed at inference). */
  variant: 'text' | 'audio';
  /** Instruction + answer tokens per training example (the answer is cut to fit, eos kept). */
  maxTextTokens: number;
  /** Modal transfer at inference (paper Table 4 rows). */
  method: TransferMethod;
  santa: SantaSettings;
  generation: GenerationSettings;
  /** Items per batch when answering (audio decoding, mapper and generation). */
  batchSize: number;
}

/**
 * The `world` preset's model on the committed world assets (tiny CLAP, tiny GPT-2), with any
 * top-level group replaced by `overrides` (e.g. a smaller mapper for a test).
 */
export function worldModelSpec(overrides: Partial<MatsModelSpec> = {}): MatsModelSpec {
  return {
    seed: 0,
    clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR, batchSize: 64 },
    llm: { dir: TINY_WORLD_LM_DIR },
    mapper: { layers: 2, prefixLength: 8, clipLength: 8, width: null, heads: 8, mlpRatio: 2, projection: false },
    lora: { rank: 8, alpha: 32, dropout: 0.1, targets: ['c_attn'] },
    noiseVariance: 0.002,
    variant: 'text',
    maxTextTokens: 64,
    method: 'santa',
    santa: { topL: 32, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: 0 },
    generation: { strategy: 'greedy', beams: 4, maxNewTokens: 32, noRepeatNgram: 0, repetitionPenalty: 1 },
    batchSize: 32,
    ...structuredClone(overrides),
  };
}

/** The fields of a trainer config (apps/shared `MatsConfig`) that describe the model. */
export interface RunConfigLike {
  seed: number;
  clap: ClapComponent;
  llm: { dir: string };
  mapper: MapperSettings;
  lora: LoraSettings;
  train: { variant: 'text' | 'audio'; noiseVariance: number; maxTextTokens: number };
  santa: Omit<SantaSettings, 'queryNoise'> & { queryNoise: boolean };
  eval: { method: TransferMethod; batchSize: number; generation: GenerationSettings };
}

/** Config -> model options: the one mapping from the trainer's field names to the model's. */
export function modelSpecFromConfig(config: RunConfigLike): MatsModelSpec {
  const s = config.santa;
  return {
    seed: config.seed,
    clap: structuredClone(config.clap),
    llm: { dir: config.llm.dir },
    mapper: { ...config.mapper },
    lora: { ...config.lora, targets: [...config.lora.targets] },
    noiseVariance: config.train.noiseVariance,
    variant: config.train.variant,
    maxTextTokens: config.train.maxTextTokens,
    method: config.eval.method,
    santa: { topL: s.topL, tau: s.tau, lambda: s.lambda, normalizeAudio: s.normalizeAudio, padClusters: s.padClusters, queryNoise: s.queryNoise ? config.train.noiseVariance : 0 },
    generation: { ...config.eval.generation },
    batchSize: config.eval.batchSize,
  };
}

/** Checks the fields a spec read from a file must have, naming the file and field. */
export function checkRunConfig(value: unknown, file: string): RunConfigLike {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new Error(`${file}: field "${field}" must be ${expected}, got ${JSON.stringify(got)?.slice(0, 80) ?? 'nothing (missing)'}`);
  };
  const get = (path: string): unknown => path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
  const num = (path: string, integer = false) => {
    const v = get(path);
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) fail(path, integer ? 'an integer' : 'a finite number', v);
  };
  const str = (path: string) => {
    const v = get(path);
    if (typeof v !== 'string' || v.length === 0) fail(path, 'a non-empty string', v);
  };
  if (!value || typeof value !== 'object') fail('config', 'an object (the trainer config)', value);
  num('seed', true);
  const kind = get('clap.kind');
  if (kind === 'tiny') str('clap.dir');
  else if (kind === 'onnx') {
    str('clap.audioModel');
    str('clap.textModel');
  } else fail('clap.kind', '"tiny" or "onnx"', kind);
  num('clap.batchSize', true);
  str('llm.dir');
  for (const f of ['layers', 'prefixLength', 'clipLength', 'heads']) num(`mapper.${f}`, true);
  for (const f of ['rank']) num(`lora.${f}`, true);
  num('lora.alpha');
  num('train.noiseVariance');
  num('train.maxTextTokens', true);
  for (const f of ['topL']) num(`santa.${f}`, true);
  num('santa.tau');
  num('santa.lambda');
  str('eval.method');
  num('eval.batchSize', true);
  str('eval.generation.strategy');
  num('eval.generation.maxNewTokens', true);
  return value as RunConfigLike;
}
