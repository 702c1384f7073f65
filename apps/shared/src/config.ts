import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { presets, type PresetName, PRESET_NAMES } from './presets.js';

/**
 * The one configuration of a MATS run, shared by the trainer and the evaluator. A config is built in
 * three layers: a preset (complete), then a JSON or YAML file (partial, deep-merged), then
 * command-line overrides (`--train.steps 100`). The result is validated by `ConfigSchema`, whose
 * errors name the field path (`train.steps: expected a positive integer`).
 */

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);

const ClapSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    /** The tiny trainable CLAP of @mats/clap (a folder with config.json + model.safetensors). */
    kind: z.literal('tiny'),
    dir: z.string().min(1),
    batchSize: positiveInt,
  }),
  z.strictObject({
    /** msclap exported to ONNX with tools/export_msclap.py. */
    kind: z.literal('onnx'),
    audioModel: z.string().min(1),
    textModel: z.string().min(1),
    batchSize: positiveInt,
    /** ONNX Runtime intra-op threads (0 = its default). */
    threads: nonNegativeInt,
    executionProviders: z.array(z.string().min(1)).min(1),
  }),
]);

const SourceSchema = z.strictObject({
  /** An AudioTIA JSONL file (one record per line). */
  path: z.string().min(1),
  /** Mixing weight: the share of training samples drawn from this source is weight / sum(weights). */
  weight: z.number().positive(),
  /** Folder that the records' `audio` fields are relative to (MATS-Audio only); default: the file's folder. */
  audioDir: z.string().min(1).nullable(),
});

const GenerationSchema = z.strictObject({
  strategy: z.enum(['greedy', 'beam']),
  beams: positiveInt,
  maxNewTokens: positiveInt,
  /** 0 disables the rule. */
  noRepeatNgram: nonNegativeInt,
  /** 1 disables the penalty. */
  repetitionPenalty: z.number().positive(),
});

export const SANTA_METHODS = ['santa', 'noise-only', 'memory-only', 'no-kmeans', 'no-audio'] as const;
export type SantaMethod = (typeof SANTA_METHODS)[number];
export const EVAL_TASKS = ['mmau', 'classify', 'caption', 'aqa'] as const;
export type EvalTask = (typeof EVAL_TASKS)[number];

/** `nx run evaluator:study`: the multi-seed ablation study (optional group; every field has a default). */
export const StudySchema = z.strictObject({
  /** One set of trainings per seed (each seed's runs differ in noise, sampling, dropout, initialisation and memory). */
  seeds: z.array(z.number().int().nonnegative()).min(1).default([0, 1, 2]),
  /** Training steps of every run of the study (null = train.steps). */
  steps: positiveInt.nullable().default(null),
  /** Noise variances of the paper's Figure 4 sweep: one MATS run per variance and seed (0 is the w/o GN run). */
  variances: z.array(z.number().nonnegative()).min(1).default([0, 0.002, 0.004, 0.015]),
  tasks: z.array(z.enum(EVAL_TASKS)).min(1).default(['mmau', 'classify', 'caption', 'aqa']),
  /** The study folder is `<runsDir>/<name>` (its trainings in `<runsDir>/<name>/runs/`). */
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only')
    .default('study'),
  /** (audio, caption) pairs of the captioning evaluation set used for the CLAP gap statistics. */
  gapPairs: positiveInt.default(300),
});

export type StudyConfig = z.infer<typeof StudySchema>;

export const ConfigSchema = z.strictObject({
  /** Which preset the config started from (informational; `--preset` picks it). */
  preset: z.enum(PRESET_NAMES as unknown as [PresetName, ...PresetName[]]),
  /** Run name: the run folder is `<runsDir>/<name>`. */
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only'),
  runsDir: z.string().min(1),
  seed: z.number().int().nonnegative(),
  backend: z.enum(['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']),
  /**
   * XNNPACK threads of the wasm backend (matrix products and convolutions on node:worker_threads);
   * 1 is the single-threaded build. Same values, bit for bit; the paper-size model's large products
   * gain from 2, the world model's small ones do not (docs/perf.md).
   */
  wasmThreads: z.number().int().min(1).max(8).default(1),
  /** The synthetic world (null for real data). Generated into `dir` when missing and `generate` is true. */
  world: z
    .strictObject({
      dir: z.string().min(1),
      seed: z.number().int().nonnegative(),
      size: z.enum(['small', 'default', 'large']),
      generate: z.boolean(),
    })
    .nullable(),
  clap: ClapSchema,
  llm: z.strictObject({
    /** A Hugging Face GPT-2 folder: config.json, model.safetensors, tokenizer files. */
    dir: z.string().min(1),
  }),
  data: z.strictObject({
    train: z.array(SourceSchema).min(1),
    /** Records held out (deterministically, by hash of the id) for the validation loss. */
    validationFraction: z.number().min(0).max(0.5),
    /** At most this many validation records are scored at each validation. */
    validationMax: positiveInt,
    /**
     * Stream the records from the JSONL files and the embeddings from the cache part by part (bounded
     * memory, for paper-scale data) instead of holding them all in memory.
     */
    streaming: z.boolean().default(false),
    /** Streaming only: skip malformed JSONL lines (counted in the run summary) instead of stopping at `file:line`. */
    skipBad: z.boolean().default(false),
  }),
  cache: z.strictObject({
    /** Embedding caches live under `<dir>/<model and data hash>/`. */
    dir: z.string().min(1),
    /** Rows per part file (the unit of resumption and of `--shard`). */
    partSize: positiveInt,
  }),
  mapper: z.strictObject({
    layers: positiveInt,
    prefixLength: positiveInt,
    clipLength: positiveInt,
    /** Transformer width; null = the LLM's embedding size. */
    width: positiveInt.nullable(),
    heads: positiveInt,
    mlpRatio: z.number().positive(),
    /** MATS's extra linear projection width -> LLM size (msclap's captioner has none). */
    projection: z.boolean(),
  }),
  lora: z.strictObject({
    rank: positiveInt,
    alpha: z.number().positive(),
    dropout: z.number().min(0).lt(1),
    targets: z.array(z.string().min(1)).min(1),
  }),
  train: z.strictObject({
    /** `text`: MATS (noisy CLAP text embeddings). `audio`: MATS-Audio (CLAP audio embeddings of the clips). */
    variant: z.enum(['text', 'audio']),
    steps: positiveInt,
    batchSize: positiveInt,
    /** Rows per forward/backward pass; gradients of the micro-batches are summed into one update (null = the whole batch at once). */
    microBatch: positiveInt.nullable().default(null),
    /**
     * Threads that compute a step together (data parallelism on the wasm or cpu backend): the batch
     * is cut into this many contiguous row shares, the main thread computes the first and worker
     * threads the others; their gradients are summed (1 = the single-thread path).
     */
    workers: positiveInt.default(1),
    lr: z.number().positive(),
    weightDecay: z.number().nonnegative(),
    warmupSteps: nonNegativeInt,
    schedule: z.enum(['linear', 'cosine', 'constant']),
    gradClip: z.number().nonnegative(),
    /** Noise variance (the paper's sigma = 0.015 is a variance); 0 = no noise (the "w/o GN" ablation). */
    noiseVariance: z.number().nonnegative(),
    /** Instruction + answer tokens are truncated to this many (the answer keeps its eos). */
    maxTextTokens: positiveInt,
    logEvery: positiveInt,
    /** 0 = validate only at the end. */
    validateEvery: nonNegativeInt,
    /** 0 = checkpoint only at the end. */
    checkpointEvery: nonNegativeInt,
    keepCheckpoints: positiveInt,
  }),
  santa: z.strictObject({
    /** M: texts drawn from the training set for the memory (paper 5172); capped by what the set has. */
    memorySize: positiveInt,
    k: positiveInt,
    topL: positiveInt,
    tau: z.number().positive(),
    lambda: probability,
    iterations: positiveInt,
    /** L2-normalise the audio embedding before Santa (paper); false = the official code's raw embedding. */
    normalizeAudio: z.boolean(),
    /** Pad small clusters by repeating the first member (official code). */
    padClusters: z.boolean(),
    /** Fresh noise on the retrieved members at every query (official code). */
    queryNoise: z.boolean(),
  }),
  eval: z.strictObject({
    /** The run to evaluate (a run folder; `runs/latest` follows the last training run). */
    run: z.string().min(1),
    method: z.enum(SANTA_METHODS),
    batchSize: positiveInt,
    /** Evaluate only the first N items of each set (0 = all). */
    limit: nonNegativeInt,
    /** ONNX Runtime intra-op threads of an export folder's sessions (null = ONNX Runtime's choice, one per physical core; ignored by run folders on tfjs). */
    onnxThreads: positiveInt.nullable().default(null),
    generation: GenerationSchema,
    mmau: z.strictObject({ data: z.string().min(1), audioDir: z.string().min(1) }),
    classify: z.strictObject({ data: z.string().min(1), audioDir: z.string().min(1), labels: z.string().min(1).nullable() }),
    caption: z.strictObject({ data: z.string().min(1), audioDir: z.string().min(1) }),
    aqa: z.strictObject({ data: z.string().min(1), audioDir: z.string().min(1) }),
    ablation: z.strictObject({
      tasks: z.array(z.enum(EVAL_TASKS)).min(1),
      methods: z.array(z.enum(SANTA_METHODS)).min(1),
      /** Runs compared in extra rows when they exist: trained without noise, and MATS-Audio. */
      noNoiseRun: z.string().min(1),
      audioRun: z.string().min(1),
    }),
  }),
  /** Settings of `nx run evaluator:study` (absent = its defaults). */
  study: StudySchema.optional(),
});

export type MatsConfig = z.infer<typeof ConfigSchema>;

/** A config error that names the field path (and the file or flag it came from). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (arrays included) replaces. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlainObject(patch) || !isPlainObject(base)) return structuredClone(patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = key in out && isPlainObject(out[key]) && isPlainObject(value) ? deepMerge(out[key], value) : structuredClone(value);
  }
  return out as T;
}

/** Reads a partial config from a .json, .yaml or .yml file. */
export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ConfigError(`config file ${path}: not found`);
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let value: unknown;
  try {
    if (ext === '.json') value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    else if (ext === '.yaml' || ext === '.yml') value = parseYaml(text);
    else throw new ConfigError(`config file ${path}: unknown extension "${ext}", expected .json, .yaml or .yml`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config file ${path}: cannot parse: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isPlainObject(value)) throw new ConfigError(`config file ${path}: expected a mapping of fields at the top level, got ${describe(value)}`);
  return value;
}

/** One command-line override: a dotted field path and its raw text. */
export interface Override {
  path: string;
  raw: string;
}

/** Parses override text the way YAML reads a scalar ("100" -> 100, "true" -> true, "[1,2]" -> array). */
function parseOverrideValue(raw: string): unknown {
  try {
    return parseYaml(raw) ?? null;
  } catch {
    return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown, where: string): void {
  const keys = path.split('.');
  if (keys.some((k) => k.length === 0)) throw new ConfigError(`${where}: "${path}" is not a valid field path`);
  let node: Record<string, unknown> = target;
  for (const [i, key] of keys.slice(0, -1).entries()) {
    if (!isPlainObject(node[key])) {
      if (node[key] === undefined || node[key] === null) node[key] = {};
      else throw new ConfigError(`${where}: ${keys.slice(0, i + 1).join('.')} is not a group of fields, so ${path} cannot be set`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

export interface ResolveOptions {
  preset?: string;
  /**
   * A complete config to start from instead of a preset (the evaluator starts from the config a run
   * was trained with). Ignored when `preset` is given.
   */
  base?: Record<string, unknown>;
  configFile?: string;
  overrides?: Override[];
}

/**
 * Builds and validates the config: preset, then file, then overrides. A preset named in the file
 * (`preset: mats-gpt2`) is used unless `--preset` says otherwise.
 */
export function resolveConfig(options: ResolveOptions = {}): MatsConfig {
  const file = options.configFile ? readConfigFile(options.configFile) : {};
  const fromBase = options.base !== undefined && options.preset === undefined && typeof file.preset !== 'string';
  const presetName = options.preset ?? (typeof file.preset === 'string' ? file.preset : fromBase ? String(options.base!.preset) : 'world');
  if (!(PRESET_NAMES as readonly string[]).includes(presetName)) {
    throw new ConfigError(`preset: unknown preset ${JSON.stringify(presetName)}, expected one of ${PRESET_NAMES.join(', ')}`);
  }
  const start = fromBase ? structuredClone(options.base!) : presets[presetName as PresetName]();
  const config = deepMerge(start, file) as Record<string, unknown>;
  config.preset = presetName;
  const fromFlag = new Set<string>();
  for (const o of options.overrides ?? []) {
    setPath(config, o.path, parseOverrideValue(o.raw), `--${o.path}`);
    fromFlag.add(o.path);
  }
  // A flag whose text YAML reads as a number or boolean, for a field that wants a string (a run named
  // "2024"), is retried once as the literal text.
  let result = ConfigSchema.safeParse(config);
  if (!result.success) {
    let retried = false;
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      const flag = options.overrides?.find((o) => o.path === path);
      if (flag && issue.code === 'invalid_type' && (issue as { expected?: string }).expected === 'string') {
        setPath(config, path, flag.raw, `--${path}`);
        retried = true;
      }
    }
    if (retried) result = ConfigSchema.safeParse(config);
  }
  if (!result.success) throw formatIssues(result.error.issues, config, options, fromFlag);
  return result.data;
}

function formatIssues(issues: z.core.$ZodIssue[], config: unknown, options: ResolveOptions, fromFlag: Set<string>): ConfigError {
  const lines = issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(top level)';
    const source = fromFlag.has(path) ? ` (from --${path})` : options.configFile ? ` (config file ${options.configFile}, preset ${options.preset ?? 'from file'})` : '';
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const got = getPath(config, issue.path as (string | number)[]);
      message = `expected ${(issue as { expected?: string }).expected}, got ${describe(got)}`;
    } else if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys;
      return `${keys.map((k) => (path === '(top level)' ? k : `${path}.${k}`)).join(', ')}: unknown field${keys.length > 1 ? 's' : ''}${source}`;
    }
    return `${path}: ${message}${source}`;
  });
  return new ConfigError(`invalid config:\n  ${lines.join('\n  ')}`);
}

function getPath(value: unknown, path: (string | number)[]): unknown {
  let node = value;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value)) return `${value} (YAML reads .nan / .inf as a number that is not finite)`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

export type { Json };
