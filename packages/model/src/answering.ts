/**
 * What every MATS model does with items, whichever engine runs the mapper and the LLM (tfjs for a
 * run folder, ONNX Runtime for an export folder): the item and option types, reading and embedding
 * the audio of each item (one error per bad item), Santa's modal transfer with the model's settings,
 * the batched answering loop and `MatsItemsError`.
 */
import { type BackendName, type Embeddings, Rng, createEmbeddings } from '@mats/core';
import { type ClapEncoder, embedAudioFiles, embedEach } from '@mats/clap';
import type { AudioClip } from '@mats/datasets';
import type { BatchGenerateOptions, GenerateResult, TextTokenizer } from '@mats/llm-lora';
import { type SantaMemory, type TransferMethod, TRANSFER_METHODS, transfer } from '@mats/santa';
import type { GenerationSettings, MatsModelSpec } from './config.js';

/** Audio of one item: a file path, a decoded clip, or a CLAP audio embedding computed elsewhere. */
export type AudioInput = string | AudioClip | Float32Array;

export interface AskItem {
  audio: AudioInput;
  /** What the model is asked (Table S8 instructions, an AQA question, an MMAU prompt). */
  instruction: string;
}

export interface Answer {
  /** The generated text ('' when the item failed). */
  answer: string;
  /** Why the item could not be answered, or null. */
  error: string | null;
}

export interface AnswerOptions {
  /** Modal transfer (default: the model's method). */
  method?: TransferMethod;
  /** Generation settings that replace the model's for this call. */
  generation?: Partial<GenerationSettings>;
  /** Items per batch (default: the model's batchSize). */
  batchSize?: number;
  /** Called after each batch: items done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface LoadOptions {
  /**
   * The model description to use instead of the run's own (apps pass the spec of their effective
   * config, see `modelSpecFromConfig`); component paths in it must be absolute. For an export
   * folder only its inference settings apply (seed, method, santa, generation, batchSize): the
   * export's files are the model.
   */
  spec?: MatsModelSpec;
  /** tfjs backend (default auto). An export folder runs nothing on tfjs. */
  backend?: BackendName;
  /** tfjs-wasm's XNNPACK threads (`selectBackend`'s `wasmThreads`; default: what runs, else 1). */
  wasmThreads?: number;
  /** Modal transfer override (paper Table 4 rows). */
  method?: TransferMethod;
  /** Use this CLAP encoder instead of opening the one the run names (it is not disposed with the model). */
  clap?: ClapEncoder;
  /** Folders that replace the run's CLAP (tiny) or LLM folder, e.g. when the run was moved (run folders only). */
  clapDir?: string;
  llmDir?: string;
  /** Generation settings that replace the run's. */
  generation?: Partial<GenerationSettings>;
  batchSize?: number;
  /**
   * Export folders: ONNX Runtime intra-op threads of every session (default: ONNX Runtime's own
   * choice, one per physical core).
   */
  intraOpThreads?: number;
}

/** The settings a model answers with (a run's full spec has these and its components). */
export type InferenceSpec = Pick<MatsModelSpec, 'seed' | 'method' | 'santa' | 'generation' | 'batchSize'>;

/** Some items of `answer` failed; `answers` holds every item's answer or error. */
export class MatsItemsError extends Error {
  constructor(
    readonly failed: { index: number; error: string }[],
    readonly answers: Answer[],
  ) {
    super(`${failed.length} of ${answers.length} item(s) could not be answered:\n  ${failed.slice(0, 10).map((f) => `item ${f.index}: ${f.error}`).join('\n  ')}${failed.length > 10 ? '\n  ...' : ''}`);
    this.name = 'MatsItemsError';
  }
}

export function checkMethod(method: TransferMethod, field: string): TransferMethod {
  if (!TRANSFER_METHODS.includes(method)) throw new Error(`${field}: unknown method ${JSON.stringify(method)}, expected one of ${TRANSFER_METHODS.join(', ')}`);
  return method;
}

/** Eq. 3 before the mapper: modal transfer of raw CLAP audio embeddings with the spec's Santa settings. */
export function santaTransfer(spec: InferenceSpec, memory: SantaMemory, embeddings: Embeddings, method: TransferMethod, rng?: Rng): Embeddings {
  const s = spec.santa;
  return transfer(method, embeddings, memory, {
    topL: s.topL,
    tau: s.tau,
    lambda: s.lambda,
    normalizeAudio: s.normalizeAudio,
    padClusters: s.padClusters,
    queryNoise: s.queryNoise,
    rng: rng ?? new Rng(`${spec.seed}/santa-query`),
  });
}

/** What the answering loop needs from a model: its settings, CLAP, tokenizer, and prefix + generation. */
export interface AnsweringModel {
  readonly spec: InferenceSpec;
  readonly clap: ClapEncoder;
  readonly tokenizer: TextTokenizer;
  /** Modal transfer (`method`, query noise from `rng`), mapper, then batched generation after each row's prompt. */
  generate(embeddings: Embeddings, prompts: number[][], method: TransferMethod, rng: Rng, options: BatchGenerateOptions): Promise<GenerateResult[]>;
}

/**
 * Answers every item in batches. An item whose audio cannot be read or embedded, or whose
 * instruction is empty, gets answer '' and its error; the others are answered.
 */
export async function askItems(model: AnsweringModel, items: AskItem[], options: AnswerOptions = {}): Promise<Answer[]> {
  const method = checkMethod(options.method ?? model.spec.method, 'method');
  const batchSize = options.batchSize ?? model.spec.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const g = { ...model.spec.generation, ...options.generation };
  const generation: BatchGenerateOptions = {
    maxNewTokens: g.maxNewTokens,
    numBeams: g.strategy === 'beam' ? g.beams : 1,
    noRepeatNgramSize: g.noRepeatNgram,
    repetitionPenalty: g.repetitionPenalty,
    eosId: model.tokenizer.eosId,
  };
  const rng = new Rng(`${model.spec.seed}/santa-query`);
  const answers: Answer[] = items.map(() => ({ answer: '', error: null }));
  const promptCache = new Map<string, number[]>();
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    const { embeddings, rows } = await embedItems(model.clap, batch, answers, start);
    if (rows.length > 0) {
      const prompts = rows.map((i) => {
        const text = items[i].instruction;
        let ids = promptCache.get(text);
        if (!ids) promptCache.set(text, (ids = model.tokenizer.encode(text)));
        return ids;
      });
      const results = await model.generate(embeddings, prompts, method, rng, generation);
      rows.forEach((i, r) => (answers[i].answer = results[r].ids.length > 0 ? model.tokenizer.decode(results[r].ids).trim() : ''));
    }
    options.onProgress?.(Math.min(items.length, start + batchSize), items.length);
  }
  return answers;
}

/** The answers of `askItems`; throws `MatsItemsError` (with the other answers) when some item failed. */
export async function answerItems(model: AnsweringModel, items: AskItem[], options: AnswerOptions = {}): Promise<string[]> {
  const answers = await askItems(model, items, options);
  const failed = answers.flatMap((a, i) => (a.error !== null ? [{ index: i, error: a.error }] : []));
  if (failed.length > 0) throw new MatsItemsError(failed, answers);
  return answers.map((a) => a.answer);
}

/**
 * CLAP audio embeddings of audio inputs: files are read through the CLAP's file route
 * (`embedAudioFiles`: one at a time, each only as far as its crop needs, so a long clip costs what
 * its window does; encoders without one decode the file), clips and files embedded together (one
 * by one when a batch fails, to find the bad one, from the encoder's crop stream as it was before the
 * batch: the others get the crops a batch without the failure gives them). One vector or one error per input; a file's
 * error names its path.
 */
export async function embedAudioInputs(clap: ClapEncoder, audio: AudioInput[]): Promise<{ vectors: (Float32Array | null)[]; errors: (string | null)[] }> {
  const dim = clap.dim;
  const vectors: (Float32Array | null)[] = audio.map(() => null);
  const errors: (string | null)[] = audio.map(() => null);
  const clips: { index: number; clip: AudioClip }[] = [];
  const files: { index: number; path: string }[] = [];
  audio.forEach((a, index) => {
    if (a instanceof Float32Array) {
      if (a.length !== dim) errors[index] = `the audio embedding has ${a.length} values, expected the CLAP dimension ${dim}`;
      else if (!a.every(Number.isFinite)) errors[index] = 'the audio embedding has a non-finite value';
      else vectors[index] = a;
    } else if (typeof a === 'string') {
      files.push({ index, path: a });
    } else {
      try {
        clips.push({ index, clip: checkClip(a) });
      } catch (err) {
        errors[index] = firstLine(err);
      }
    }
  });
  const embedGroup = async <T extends { index: number }>(list: T[], embed: (part: T[]) => Promise<Embeddings>): Promise<void> => {
    (await embedEach(clap, list, embed)).forEach((row, k) => {
      const index = list[k].index;
      if (row instanceof Float32Array) {
        vectors[index] = row;
        return;
      }
      const line = firstLine(row);
      const name = describeAudio(audio[index]);
      // A file's read errors already start with its path.
      errors[index] = line.startsWith(`${name}:`) ? line : `${name}: CLAP could not embed the clip: ${line}`;
    });
  };
  await embedGroup(clips, (part) => clap.embedAudio(part.map((c) => c.clip)));
  await embedGroup(files, (part) => embedAudioFiles(clap, part.map((f) => f.path)));
  return { vectors, errors };
}

/** Embeddings of the answerable items of a batch; failures are written into `answers` (indices offset by `start`). */
async function embedItems(clap: ClapEncoder, batch: AskItem[], answers: Answer[], start: number): Promise<{ embeddings: Embeddings; rows: number[] }> {
  const dim = clap.dim;
  const usable = batch.map((item, k) => {
    const ok = !!item && typeof item.instruction === 'string' && item.instruction.trim() !== '';
    if (!ok) answers[start + k].error = 'the instruction is empty';
    return ok;
  });
  const picked = batch.flatMap((item, k) => (usable[k] ? [k] : []));
  const { vectors, errors } = await embedAudioInputs(clap, picked.map((k) => batch[k].audio));
  const rows: number[] = [];
  picked.forEach((k, j) => {
    if (errors[j] !== null) answers[start + k].error = errors[j];
    else rows.push(j);
  });
  const embeddings = createEmbeddings(rows.length, dim);
  rows.forEach((j, r) => embeddings.data.set(vectors[j]!, r * dim));
  return { embeddings, rows: rows.map((j) => start + picked[j]) };
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

function describeAudio(audio: AudioInput): string {
  return typeof audio === 'string' ? audio : 'audio clip';
}

function checkClip(clip: AudioClip): AudioClip {
  if (!clip || !Array.isArray(clip.channels) || !(clip.sampleRate > 0)) throw new Error('audio must be a file path, an AudioClip { sampleRate, channels } or a Float32Array embedding');
  if (clip.channels.length === 0 || clip.channels[0].length === 0) throw new Error('the audio clip is empty');
  for (const ch of clip.channels) if (!ch.every(Number.isFinite)) throw new Error('the audio clip has a non-finite sample');
  return clip;
}
