/**
 * MATS as one model (paper section 3): a frozen CLAP, Santa's memory of noisy text embeddings, the
 * mapper, and the frozen LLM with its LoRA adapter.
 *
 * Training (eq. 1-2): text embedding -> normalise + Gaussian noise -> mapper -> prefix of the LLM ->
 * cross-entropy on the answer. Inference (eq. 3): audio embedding -> modal transfer (Santa) ->
 * mapper -> prefix -> generation after the instruction. The prefix stays a tfjs tensor from the
 * mapper into the LLM.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type Embeddings, Rng, l2Normalize, selectBackend, writeFileAtomic } from '@mats/core';
import { type ClapEncoder, loadClap } from '@mats/clap';
import {
  type BatchGenerateOptions,
  type CausalLM,
  type GenerateResult,
  type LoraAdapter,
  type PrefixLmExample,
  type TextTokenizer,
  CausalLmDecoder,
  applyLora,
  buildPrefixLmBatch,
  generateBatch,
  loadCausalLM,
  loadLora,
  mergeLora,
  prefixLmLoss,
  saveLora,
} from '@mats/llm-lora';
import { type TransformerMapper, createMapper, loadMapper } from '@mats/mapper';
import { type SantaMemory, type TransferMethod, injectNoise, loadMemory, saveMemory } from '@mats/santa';
import { type MatsModelSpec, checkRunConfig, modelSpecFromConfig } from './config.js';
import {
  type Answer,
  type AnswerOptions,
  type AskItem,
  type AudioInput,
  type LoadOptions,
  answerItems,
  askItems,
  checkMethod,
  embedAudioInputs,
  firstLine,
  santaTransfer,
} from './answering.js';
import { ExportedMatsModel } from './onnx/exported-model.js';
import { isExportFolder } from './onnx/runtime.js';
import { MODEL_FILE, RUN_FILES, resolveComponent, storeComponent } from './files.js';

export { type Answer, type AnswerOptions, type AskItem, type AudioInput, type InferenceSpec, type LoadOptions, MatsItemsError } from './answering.js';

/** One training example: the CLAP input row and the tokenised instruction + answer. */
export interface TrainingBatch {
  /** Raw CLAP embeddings of the batch (text for MATS, audio for MATS-Audio), one row per example. */
  embeddings: Embeddings;
  examples: PrefixLmExample[];
}

export interface TrainingLossOptions {
  /** Gaussian noise of eq. 2 ({ variance: 0 } or null: normalise only). */
  noise?: { variance: number; rng: Rng } | null;
  /** Training mode: LoRA dropout on, drawn from `dropoutRng`. */
  training?: boolean;
  dropoutRng?: Rng;
  /** Token count the loss is divided by (gradient accumulation over micro-batches). */
  denominator?: number;
}

/** The LoRA adapter as PEFT files, kept for `save` once the adapter is merged for inference. */
interface AdapterFiles {
  config: string;
  weights: Buffer;
}

/** A training model's live adapter, or the files of an adapter merged into the LLM for inference. */
type AdapterState = { live: LoraAdapter } | { merged: AdapterFiles };

export class MatsModel {
  private constructor(
    readonly spec: MatsModelSpec,
    readonly clap: ClapEncoder,
    readonly llm: CausalLM,
    readonly tokenizer: TextTokenizer,
    readonly mapper: TransformerMapper,
    readonly memory: SantaMemory,
    private readonly adapterState: AdapterState,
    private readonly ownsClap: boolean,
  ) {
    if (mapper.config.clapDim !== clap.dim) throw new Error(`the mapper expects ${mapper.config.clapDim}-d CLAP embeddings but the CLAP model gives ${clap.dim}-d`);
    checkMapperFitsLlm(mapper, llm);
    if (memory.memory.dim !== clap.dim) throw new Error(`the Santa memory holds ${memory.memory.dim}-d embeddings but the CLAP model gives ${clap.dim}-d`);
  }

  readonly engine = 'tfjs' as const;

  /**
   * Opens a trained run folder (as the trainer writes it: config.json or model.json, mapper.safetensors,
   * adapter_config.json + adapter_model.safetensors, santa.safetensors) or a folder written by `save`:
   * a MatsModel on tfjs, the LoRA adapter merged into the LLM (inference costs what the base model
   * costs). An export folder (`mats export`, its config.json a manifest) opens as an
   * `ExportedMatsModel` on onnxruntime-node, which answers the same way; `engine` tells them apart.
   */
  static async load(runDir: string, options: LoadOptions = {}): Promise<LoadedMatsModel> {
    if (existsSync(runDir) && isExportFolder(realpathSync(runDir))) return ExportedMatsModel.open(realpathSync(runDir), options);
    const dir = openRunDir(runDir);
    const spec = options.spec ? structuredClone(options.spec) : readSpec(dir);
    if (options.method !== undefined) spec.method = checkMethod(options.method, 'method');
    if (options.generation) spec.generation = { ...spec.generation, ...options.generation };
    if (options.batchSize !== undefined) spec.batchSize = options.batchSize;
    if (options.clapDir && spec.clap.kind === 'tiny') spec.clap.dir = resolve(options.clapDir);
    if (options.llmDir) spec.llm.dir = resolve(options.llmDir);
    await selectBackend(options.backend ?? 'auto', { wasmThreads: options.wasmThreads });
    const adapterFiles: AdapterFiles = {
      config: readFileSync(join(dir, RUN_FILES.adapterConfig), 'utf8'),
      weights: readFileSync(join(dir, RUN_FILES.adapterModel)),
    };
    const mapper = loadMapper(join(dir, RUN_FILES.mapper));
    const memory = loadMemory(join(dir, RUN_FILES.santa));
    const llm = openLlm(spec, dir);
    let clap: ClapEncoder | undefined;
    try {
      // Before the adapter: an LLM of another width would fail there with a tensor shape, not the cause.
      checkMapperFitsLlm(mapper, llm);
      mergeLora(llm, loadLora(llm, dir));
      clap = options.clap ?? (await openClap(spec, dir));
      return new MatsModel(spec, clap, llm, llm.tokenizer!, mapper, memory, { merged: adapterFiles }, options.clap === undefined);
    } catch (err) {
      mapper.dispose();
      llm.dispose();
      if (clap && !options.clap) await clap.dispose();
      throw err;
    }
  }

  /**
   * A model to train: a fresh mapper and a fresh LoRA adapter on the frozen LLM (seeded from
   * spec.seed), or the mapper and adapter of a checkpoint folder.
   */
  static create(spec: MatsModelSpec, parts: { clap: ClapEncoder; llm: CausalLM; memory: SantaMemory; checkpoint?: string; ownsClap?: boolean }): MatsModel {
    const { clap, llm, memory } = parts;
    const { tokenizer, mapper, adapter } = createTrainables(spec, llm, clap.dim, parts.checkpoint);
    return new MatsModel(spec, clap, llm, tokenizer, mapper, memory, { live: adapter }, parts.ownsClap ?? true);
  }

  /** The joint CLAP dimension. */
  get dim(): number {
    return this.clap.dim;
  }

  /** Trainable tensors: the mapper's, then the adapter's (training models only). */
  get trainableVariables(): tf.Variable[] {
    return [...this.mapper.trainableVariables, ...this.adapter.variables()];
  }

  /** The live LoRA adapter of a training model (a loaded model's adapter is merged into the LLM). */
  get adapter(): LoraAdapter {
    if (!('live' in this.adapterState)) throw new Error('the LoRA adapter of a loaded model is merged into the LLM (use MatsModel.create to train)');
    return this.adapterState.live;
  }

  get loraParameterCount(): number {
    return 'live' in this.adapterState ? this.adapterState.live.parameterCount : 0;
  }

  /**
   * Eq. 3 up to the LLM: modal transfer of CLAP audio embeddings by `method`, then the mapper.
   * Returns a tensor [rows, prefixLength, n_embd] that the caller disposes.
   */
  prefixes(embeddings: Embeddings, options: { method?: TransferMethod; rng?: Rng } = {}): tf.Tensor3D {
    return this.mapPrefix(this.transferEmbeddings(embeddings, options));
  }

  /**
   * Eq. 3 alone: CLAP audio embeddings after the modal transfer of `method` (Santa by default),
   * L2-normalised - the rows the mapper turns into prefixes.
   */
  transferEmbeddings(embeddings: Embeddings, options: { method?: TransferMethod; rng?: Rng } = {}): Embeddings {
    const method = checkMethod(options.method ?? this.spec.method, 'transferEmbeddings: method');
    return l2Normalize(santaTransfer(this.spec, this.memory, embeddings, method, options.rng));
  }

  /** The mapper on L2-normalised rows, as a tensor [rows, P, n_embd]. */
  private mapPrefix(z: Embeddings): tf.Tensor3D {
    return mapRows(this.mapper, z);
  }

  /** Tokenised instruction and answer of a training record, truncated to spec.maxTextTokens. */
  encodeExample(record: { instruction: string; answer: string }, name = 'record'): PrefixLmExample {
    const instruction = this.tokenizer.encode(record.instruction);
    let answer = this.tokenizer.encode(` ${record.answer}`);
    const room = this.spec.maxTextTokens - 1 - instruction.length;
    if (room < 1) throw new Error(`train.maxTextTokens: ${this.spec.maxTextTokens} leaves no room for the answer of ${name} (instruction has ${instruction.length} tokens)`);
    if (answer.length === 0) throw new Error(`${name}: the answer has no tokens`);
    if (answer.length > room) answer = answer.slice(0, room);
    return { instruction, answer };
  }

  /**
   * Eq. 1-2: the prefix-LM loss of a batch. The CLAP rows are L2-normalised, noise of the given
   * variance is added and the rows renormalised (skipped for variance 0), the mapper makes the
   * prefix, and the LLM is scored on answer + eos.
   */
  trainingLoss(batch: TrainingBatch, options: TrainingLossOptions = {}): tf.Scalar {
    return prefixTrainingLoss(this.llm, this.tokenizer, this.mapper, batch, options);
  }

  /** Transfer, mapper and batched generation for embedded rows (the answering loop's engine step). */
  async generate(embeddings: Embeddings, prompts: number[][], method: TransferMethod, rng: Rng, options: BatchGenerateOptions): Promise<GenerateResult[]> {
    const prefix = this.prefixes(embeddings, { method, rng });
    try {
      return await generateBatch(new CausalLmDecoder(this.llm), prefix, prompts, options);
    } finally {
      prefix.dispose();
    }
  }

  /**
   * Answers every item (batched generation over padded rows with a KV cache). An item whose audio
   * cannot be read or embedded, or whose instruction is empty, gets answer '' and its error; the
   * others are answered.
   */
  ask(items: AskItem[], options: AnswerOptions = {}): Promise<Answer[]> {
    return askItems(this, items, options);
  }

  /** Answers every item; throws `MatsItemsError` (with the other answers) when some item failed. */
  answer(items: AskItem[], options: AnswerOptions = {}): Promise<string[]> {
    return answerItems(this, items, options);
  }

  /**
   * CLAP audio embeddings of audio inputs: files are read through the CLAP's file route
   * (`embedAudioFiles`: one at a time, each only as far as its crop needs, so a long clip costs what
   * its window does), clips and files embedded together (one by one when a batch fails, to find the
   * bad one). One vector or one error per input; a file's error names its path.
   */
  embedAudio(audio: AudioInput[]): Promise<{ vectors: (Float32Array | null)[]; errors: (string | null)[] }> {
    return embedAudioInputs(this.clap, audio);
  }

  /**
   * Writes the model as a run folder: model.json (the spec, component paths made absolute or named
   * as a package asset), mapper.safetensors, the PEFT adapter files and santa.safetensors.
   */
  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await this.mapper.saveAsync(join(dir, RUN_FILES.mapper));
    if ('live' in this.adapterState) {
      await saveLora(this.adapterState.live, dir);
    } else {
      writeFileAtomic(join(dir, RUN_FILES.adapterConfig), this.adapterState.merged.config);
      writeFileAtomic(join(dir, RUN_FILES.adapterModel), this.adapterState.merged.weights);
    }
    saveMemory(join(dir, RUN_FILES.santa), this.memory);
    const spec = structuredClone(this.spec);
    if (spec.clap.kind === 'tiny') spec.clap.dir = storeComponent(spec.clap.dir);
    else {
      spec.clap.audioModel = storeComponent(spec.clap.audioModel);
      spec.clap.textModel = storeComponent(spec.clap.textModel);
    }
    spec.llm.dir = storeComponent(spec.llm.dir);
    writeFileAtomic(join(dir, MODEL_FILE), JSON.stringify({ format: 'mats-model', version: 1, spec }, null, 2) + '\n');
  }

  /** Frees the mapper, the LLM and (unless it was supplied by the caller) the CLAP encoder. */
  async dispose(): Promise<void> {
    this.mapper.dispose();
    if ('live' in this.adapterState) this.adapterState.live.dispose();
    this.llm.dispose();
    if (this.ownsClap) await this.clap.dispose();
  }
}

/** What `MatsModel.load` returns: a tfjs model for a run folder, an ONNX Runtime one for an export folder. */
export type LoadedMatsModel = MatsModel | ExportedMatsModel;

/**
 * The trainable parts on a frozen LLM: a fresh mapper for `clapDim`-wide CLAP rows and a fresh LoRA
 * adapter (seeded from spec.seed), or those of a checkpoint folder. Shared by MatsModel.create and
 * TrainingReplica.create.
 */
export function createTrainables(spec: MatsModelSpec, llm: CausalLM, clapDim: number, checkpoint?: string): { tokenizer: TextTokenizer; mapper: TransformerMapper; adapter: LoraAdapter } {
  if (!llm.tokenizer) throw new Error(`llm.dir: ${spec.llm.dir} has no tokenizer`);
  const llmDim = llm.config.nEmbd;
  const width = spec.mapper.width ?? llmDim;
  if (!spec.mapper.projection && width !== llmDim) {
    throw new Error(`mapper.width: ${width} differs from the LLM's n_embd ${llmDim}; set mapper.projection: true or mapper.width: null`);
  }
  if (checkpoint) return { tokenizer: llm.tokenizer, mapper: loadMapper(join(checkpoint, RUN_FILES.mapper)), adapter: loadLora(llm, checkpoint) };
  const m = spec.mapper;
  const mapper = createMapper(
    { clapDim, width, llmDim: m.projection ? llmDim : undefined, projection: m.projection, prefixLength: m.prefixLength, clipLength: m.clipLength, layers: m.layers, heads: m.heads, mlpRatio: m.mlpRatio },
    new Rng(`${spec.seed}/mapper`),
  );
  const adapter = applyLora(llm, { r: spec.lora.rank, alpha: spec.lora.alpha, dropout: spec.lora.dropout, targetModules: spec.lora.targets }, new Rng(`${spec.seed}/lora`));
  return { tokenizer: llm.tokenizer, mapper, adapter };
}

/**
 * Eq. 1-2 on the parts: the CLAP rows L2-normalised, noise of the given variance added and the rows
 * renormalised (skipped for variance 0), the mapper's prefix, the LLM scored on answer + eos.
 */
export function prefixTrainingLoss(llm: CausalLM, tokenizer: TextTokenizer, mapper: TransformerMapper, batch: TrainingBatch, options: TrainingLossOptions): tf.Scalar {
  const { embeddings, examples } = batch;
  if (embeddings.rows !== examples.length) throw new Error(`trainingLoss: ${embeddings.rows} embeddings for ${examples.length} examples`);
  const noise = options.noise;
  const x = noise && noise.variance > 0 ? injectNoise(embeddings, { variance: noise.variance, rng: noise.rng }) : l2Normalize(embeddings);
  const layout = buildPrefixLmBatch(examples, mapper.config.prefixLength, tokenizer.eosId, tokenizer.padId);
  return tf.tidy(() => prefixLmLoss(llm, mapRows(mapper, x), layout, { training: options.training ?? false, rng: options.dropoutRng, denominator: options.denominator }));
}

/** The mapper on L2-normalised rows, as a tensor [rows, P, n_embd]. */
function mapRows(mapper: TransformerMapper, z: Embeddings): tf.Tensor3D {
  return tf.tidy(() => mapper.apply(tf.tensor2d(z.data, [z.rows, z.dim])));
}

export function checkMapperFitsLlm(mapper: TransformerMapper, llm: CausalLM): void {
  if (mapper.config.outDim !== llm.config.nEmbd) throw new Error(`the mapper gives ${mapper.config.outDim}-wide prefixes but the LLM's n_embd is ${llm.config.nEmbd}`);
}

function openRunDir(runDir: string): string {
  const path = resolve(runDir);
  if (!existsSync(path)) throw new Error(`${path}: the run folder does not exist (train one with \`npx nx run trainer:train\`)`);
  const dir = realpathSync(path);
  const hasSpec = existsSync(join(dir, MODEL_FILE)) || existsSync(join(dir, RUN_FILES.config));
  if (!hasSpec) throw new Error(`${dir}: not a MATS run folder (no ${MODEL_FILE} or ${RUN_FILES.config})`);
  for (const f of [RUN_FILES.mapper, RUN_FILES.adapterConfig, RUN_FILES.adapterModel, RUN_FILES.santa]) {
    if (!existsSync(join(dir, f))) throw new Error(`${dir}: the run folder has no ${f} (is the training finished?)`);
  }
  return dir;
}

function readJsonFile(file: string): unknown {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${firstLine(err)})`);
  }
}

/** The model spec of a run folder: model.json (written by save) or the trainer's config.json. */
function readSpec(dir: string): MatsModelSpec {
  const modelFile = join(dir, MODEL_FILE);
  if (existsSync(modelFile)) {
    const json = readJsonFile(modelFile) as { format?: unknown; spec?: MatsModelSpec };
    if (json.format !== 'mats-model') throw new Error(`${modelFile}: field "format" must be "mats-model", got ${JSON.stringify(json.format)}`);
    if (!json.spec || typeof json.spec !== 'object') throw new Error(`${modelFile}: field "spec" is missing`);
    return structuredClone(json.spec);
  }
  const file = join(dir, RUN_FILES.config);
  const json = readJsonFile(file) as { config?: unknown; baseDir?: string };
  const spec = modelSpecFromConfig(checkRunConfig(json.config, file));
  // Relative component paths of a trainer config are relative to the folder it was trained in.
  const where = { runDir: dir, baseDir: json.baseDir };
  if (spec.clap.kind === 'tiny') spec.clap.dir = resolveComponent(spec.clap.dir, where, 'clap.dir');
  else {
    spec.clap.audioModel = resolveComponent(spec.clap.audioModel, where, 'clap.audioModel');
    spec.clap.textModel = resolveComponent(spec.clap.textModel, where, 'clap.textModel');
  }
  spec.llm.dir = resolveComponent(spec.llm.dir, where, 'llm.dir');
  return spec;
}

function openLlm(spec: MatsModelSpec, runDir: string): CausalLM {
  const dir = resolveComponent(spec.llm.dir, { runDir }, 'llm.dir');
  if (!existsSync(dir)) throw new Error(`${runDir}: llm.dir ${dir} does not exist (expected a Hugging Face GPT-2 folder; pass llmDir to load it from elsewhere)`);
  const llm = loadCausalLM(dir);
  if (!llm.tokenizer) {
    llm.dispose();
    throw new Error(`llm.dir: ${dir} has no tokenizer`);
  }
  return llm;
}

async function openClap(spec: MatsModelSpec, runDir: string): Promise<ClapEncoder> {
  const c = spec.clap;
  if (c.kind === 'tiny') {
    const dir = resolveComponent(c.dir, { runDir }, 'clap.dir');
    if (!existsSync(dir)) throw new Error(`${runDir}: clap.dir ${dir} does not exist (expected the tiny CLAP folder; pass clapDir to load it from elsewhere)`);
    return loadClap({ type: 'tiny', dir, batchSize: c.batchSize, seed: spec.seed });
  }
  return loadClap({
    type: 'onnx',
    audioModel: resolveComponent(c.audioModel, { runDir }, 'clap.audioModel'),
    textModel: resolveComponent(c.textModel, { runDir }, 'clap.textModel'),
    batchSize: c.batchSize,
    threads: c.threads > 0 ? c.threads : undefined,
    executionProviders: c.executionProviders,
    seed: spec.seed,
  });
}

