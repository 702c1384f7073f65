/**
 * An export folder (`mats export RUN --out DIR`) as a model that answers like `MatsModel`: what
 * `MatsModel.load` returns for such a folder. The CLAP encoders, the mapper and the LLM decoder run
 * on onnxruntime-node; Santa's modal transfer is the same TypeScript on the embeddings as for a run
 * folder; generation is llm-lora's `generateBatch` (greedy or beam, KV cache) on `OrtDecoder`. The
 * item handling (`ask`, `answer`, `embedAudio`, `MatsItemsError`) is the tfjs model's own
 * (../answering.ts). Training and saving need the tfjs model and its LoRA adapter: they throw
 * `ExportedModelError`.
 */
import { join } from 'node:path';
import { type Embeddings, Rng, l2Normalize } from '@mats/core';
import { type ClapEncoder, loadClap } from '@mats/clap';
import { type BatchGenerateOptions, type GenerateResult, type TextTokenizer, generateBatch } from '@mats/llm-lora';
import { type SantaMemory, type TransferMethod, SANTA_DEFAULTS } from '@mats/santa';
import {
  type Answer,
  type AnswerOptions,
  type AskItem,
  type AudioInput,
  type InferenceSpec,
  type LoadOptions,
  answerItems,
  askItems,
  checkMethod,
  embedAudioInputs,
  santaTransfer,
} from '../answering.js';
import type { ExportManifest } from './manifest.js';
import { type ExportedModel, loadExported, readManifest } from './runtime.js';

/** Batch size of an export opened without a spec (the world preset's eval.batchSize). */
const DEFAULT_BATCH_SIZE = 32;

/** What an export folder cannot do (training, saving): the message names the folder and what to open instead. */
export class ExportedModelError extends Error {
  constructor(dir: string, what: string, sourceRun: string | null) {
    super(
      `${dir}: ${what} is not available on an ONNX export (it runs on ONNX Runtime and holds the LLM with its LoRA adapter merged, no tfjs weights or adapter); ` +
        `open the run folder it was exported from${sourceRun ? ` (${sourceRun})` : ''} with MatsModel.load for that`,
    );
    this.name = 'ExportedModelError';
  }
}

/** The inference settings an export was made with: its manifest's Santa and generation sections. */
export function manifestSpec(manifest: ExportManifest): InferenceSpec {
  const s = manifest.santa;
  const g = manifest.generation;
  return {
    seed: s?.seed ?? 0,
    method: checkMethod((s?.method ?? 'noise-only') as TransferMethod, 'santa.method of the manifest'),
    santa: s ? { topL: s.topL, tau: s.tau, lambda: s.lambda, normalizeAudio: s.normalizeAudio, padClusters: s.padClusters, queryNoise: s.queryNoise } : { ...SANTA_DEFAULTS },
    generation: { strategy: g.numBeams > 1 ? 'beam' : 'greedy', beams: g.numBeams, maxNewTokens: g.maxNewTokens, noRepeatNgram: g.noRepeatNgramSize, repetitionPenalty: g.repetitionPenalty },
    batchSize: DEFAULT_BATCH_SIZE,
  };
}

export class ExportedMatsModel {
  readonly engine = 'onnx' as const;

  private constructor(
    /** The export folder. */
    readonly dir: string,
    readonly spec: InferenceSpec,
    readonly clap: ClapEncoder,
    /** The ONNX Runtime sessions, tokenizer and memory of the folder (see `loadExported`). */
    readonly exported: ExportedModel,
    /** A CLAP encoder opened here (msclap's ONNX files), disposed with the model. */
    private readonly ownClap: ClapEncoder | null,
  ) {
    const { mapper } = exported.manifest;
    if (mapper.clapDim !== clap.dim) throw new Error(`${dir}: the mapper expects ${mapper.clapDim}-d CLAP embeddings but the CLAP model gives ${clap.dim}-d`);
  }

  /**
   * Opens an export folder (what `MatsModel.load` does for one). `options.spec` supplies the
   * inference settings (seed, method, santa, generation, batchSize) instead of the manifest's;
   * `method`, `generation` and `batchSize` override them; `intraOpThreads` sets ONNX Runtime's
   * threads. `clapDir` / `llmDir` name tfjs components, which an export replaces: they are refused.
   */
  static async open(dir: string, options: LoadOptions = {}): Promise<ExportedMatsModel> {
    for (const key of ['clapDir', 'llmDir'] as const) {
      if (options[key] !== undefined) throw new Error(`${dir}: ${key} does not apply to an ONNX export (the export's own .onnx files are the model); open the run folder it was exported from to use other components`);
    }
    const spec: InferenceSpec = options.spec ? pickInference(options.spec) : manifestSpec(readManifest(dir));
    if (options.method !== undefined) spec.method = checkMethod(options.method, 'method');
    if (options.generation) spec.generation = { ...spec.generation, ...options.generation };
    if (options.batchSize !== undefined) spec.batchSize = options.batchSize;
    const threads = options.intraOpThreads;
    // The tiny CLAP's crop stream is seeded like the tfjs TinyClap of a run folder (spec.seed).
    const exported = await loadExported(dir, { threads, seed: spec.seed, clapBatchSize: options.spec?.clap.batchSize });
    let ownClap: ClapEncoder | null = null;
    try {
      const m = exported.manifest;
      let clap: ClapEncoder | null = options.clap ?? exported.clap;
      if (!clap && m.clap?.kind === 'onnx') {
        ownClap = await loadClap({ type: 'onnx', audioModel: join(dir, m.files.clapAudio!), textModel: join(dir, m.files.clapText!), threads, batchSize: options.spec?.clap.batchSize, seed: spec.seed });
        clap = ownClap;
      }
      if (!clap) throw new Error(`${dir}: the export has no CLAP encoders (manifest field "clap" is null); pass options.clap`);
      return new ExportedMatsModel(dir, spec, clap, exported, ownClap);
    } catch (err) {
      if (ownClap) await ownClap.dispose();
      await exported.dispose();
      throw err;
    }
  }

  get manifest(): ExportManifest {
    return this.exported.manifest;
  }

  /** The joint CLAP dimension. */
  get dim(): number {
    return this.clap.dim;
  }

  get tokenizer(): TextTokenizer {
    return this.exported.tokenizer;
  }

  /** Santa's memory (null when the export has none: then only method noise-only answers). */
  get memory(): SantaMemory | null {
    return this.exported.memory;
  }

  /**
   * Eq. 3 up to the LLM: modal transfer of CLAP audio embeddings by `method`, then the mapper on
   * ONNX Runtime. Returns host data [rows, prefixLength, n_embd] (the tfjs model returns a tensor).
   */
  async prefixes(embeddings: Embeddings, options: { method?: TransferMethod; rng?: Rng } = {}): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    return this.exported.mapper.forward(this.transferEmbeddings(embeddings, options));
  }

  /**
   * Eq. 3 alone (as MatsModel.transferEmbeddings): CLAP audio embeddings after the modal transfer
   * of `method`, L2-normalised - the rows the mapper turns into prefixes.
   */
  transferEmbeddings(embeddings: Embeddings, options: { method?: TransferMethod; rng?: Rng } = {}): Embeddings {
    const method = checkMethod(options.method ?? this.spec.method, 'transferEmbeddings: method');
    const memory = this.exported.memory;
    if (memory) return l2Normalize(santaTransfer(this.spec, memory, embeddings, method, options.rng));
    if (method === 'noise-only') return l2Normalize(embeddings);
    throw new Error(`${this.dir}: method "${method}" needs Santa's memory, which the export does not have (manifest field "santa" is null); use method noise-only`);
  }

  /** Transfer, mapper and batched generation for embedded rows (the answering loop's engine step). */
  async generate(embeddings: Embeddings, prompts: number[][], method: TransferMethod, rng: Rng, options: BatchGenerateOptions): Promise<GenerateResult[]> {
    const prefix = await this.prefixes(embeddings, { method, rng });
    return generateBatch(this.exported.llm.decoder(), prefix.data, prompts, options);
  }

  /** Answers every item (see MatsModel.ask): failed items get answer '' and their error. */
  ask(items: AskItem[], options: AnswerOptions = {}): Promise<Answer[]> {
    return askItems(this, items, options);
  }

  /** Answers every item; throws `MatsItemsError` (with the other answers) when some item failed. */
  answer(items: AskItem[], options: AnswerOptions = {}): Promise<string[]> {
    return answerItems(this, items, options);
  }

  /** CLAP audio embeddings of audio inputs, one vector or one error per input (see MatsModel.embedAudio). */
  embedAudio(audio: AudioInput[]): Promise<{ vectors: (Float32Array | null)[]; errors: (string | null)[] }> {
    return embedAudioInputs(this.clap, audio);
  }

  /** Not available: an export has no trainable tfjs variables. */
  get trainableVariables(): never {
    throw new ExportedModelError(this.dir, 'training (trainableVariables)', this.manifest.sourceRun);
  }

  /** Not available: the export's LoRA adapter is merged into decoder.onnx. */
  get adapter(): never {
    throw new ExportedModelError(this.dir, 'the LoRA adapter', this.manifest.sourceRun);
  }

  /** Not available: training examples are for the tfjs model's trainingLoss. */
  encodeExample(_record: { instruction: string; answer: string }, _name?: string): never {
    throw new ExportedModelError(this.dir, 'encodeExample (training examples)', this.manifest.sourceRun);
  }

  /** Not available: the training loss needs the tfjs model. */
  trainingLoss(): never {
    throw new ExportedModelError(this.dir, 'trainingLoss', this.manifest.sourceRun);
  }

  /** Not available: an export is saved by `mats export`, a run folder by the tfjs model. */
  async save(_dir?: string): Promise<never> {
    throw new ExportedModelError(this.dir, 'save', this.manifest.sourceRun);
  }

  /** Releases every ONNX Runtime session (a CLAP encoder passed in options.clap is not disposed). */
  async dispose(): Promise<void> {
    if (this.ownClap) await this.ownClap.dispose();
    await this.exported.dispose();
  }
}

function pickInference(spec: InferenceSpec): InferenceSpec {
  const { seed, method, santa, generation, batchSize } = structuredClone(spec);
  return { seed, method: checkMethod(method, 'spec.method'), santa, generation, batchSize };
}
