import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { type Embeddings, Rng, concatEmbeddings, createEmbeddings } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { decodeAudioFile } from '@mats/datasets';
import { type CausalLM, type TextTokenizer, generate, loadLora, mergeLora } from '@mats/llm-lora';
import { type TransformerMapper, loadMapper } from '@mats/mapper';
import { type SantaMemory, loadMemory, transfer } from '@mats/santa';
import { type MatsConfig, type SantaMethod, RUN_FILES, loadClap, loadLlm, readJson, resolvePath } from '@mats/app-shared';

/** A trained run, ready to answer: CLAP, the LLM with its adapter merged, the mapper, Santa's memory. */
export interface OpenRun {
  /** The run folder (symlinks such as runs/latest resolved). */
  dir: string;
  /** The config the run was trained with. */
  trained: MatsConfig;
  clap: ClapEncoder;
  llm: CausalLM;
  tokenizer: TextTokenizer;
  mapper: TransformerMapper;
  memory: SantaMemory;
}

/** Reads a run folder's stored config (config.json written by the trainer). */
export function readRunConfig(runPath: string): { dir: string; config: MatsConfig } {
  const path = resolvePath(runPath);
  if (!existsSync(path)) throw new Error(`eval.run: ${path} does not exist (train a model first: npx nx run trainer:train)`);
  const dir = realpathSync(path);
  for (const f of [RUN_FILES.config, RUN_FILES.mapper, RUN_FILES.adapterModel, RUN_FILES.santa]) {
    if (!existsSync(join(dir, f))) throw new Error(`eval.run: ${dir} has no ${f} (is the training finished?)`);
  }
  return { dir, config: readJson<{ config: MatsConfig }>(join(dir, RUN_FILES.config), 'run config').config };
}

/** Opens a run with the models named by `config` (normally the run's own config plus any overrides). */
export async function openRun(dir: string, config: MatsConfig, clap?: ClapEncoder): Promise<OpenRun> {
  const trained = readJson<{ config: MatsConfig }>(join(dir, RUN_FILES.config), 'run config').config;
  const encoder = clap ?? (await loadClap(config));
  const llm = loadLlm(config);
  mergeLora(llm, loadLora(llm, dir));
  if (!llm.tokenizer) throw new Error(`llm.dir: ${config.llm.dir} has no tokenizer`);
  const mapper = loadMapper(join(dir, RUN_FILES.mapper));
  const memory = loadMemory(join(dir, RUN_FILES.santa));
  if (mapper.config.clapDim !== encoder.dim) throw new Error(`${dir}: the mapper expects ${mapper.config.clapDim}-d CLAP embeddings but the CLAP model gives ${encoder.dim}-d`);
  return { dir, trained, clap: encoder, llm, tokenizer: llm.tokenizer, mapper, memory };
}

export function closeRun(run: OpenRun, keepClap = false): void {
  run.mapper.dispose();
  run.llm.dispose();
  if (!keepClap) void run.clap.dispose();
}

/** An evaluation item: a clip and the instruction the model answers about it. */
export interface AskItem {
  id: string;
  /** Absolute path of the audio file. */
  audio: string;
  prompt: string;
}

/** The CLAP audio embeddings of a set of items; clips that cannot be read are recorded, not dropped. */
export interface ItemEmbeddings {
  embeddings: Embeddings;
  rowOf: Map<string, number>;
  failures: Map<string, string>;
}

export async function embedItems(clap: ClapEncoder, items: AskItem[], batchSize: number, onProgress?: (done: number) => void): Promise<ItemEmbeddings> {
  const parts: Embeddings[] = [];
  const rowOf = new Map<string, number>();
  const failures = new Map<string, string>();
  let rows = 0;
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = items.slice(i, i + batchSize);
    const decoded = await Promise.all(
      batch.map(async (item) => {
        try {
          return await decodeAudioFile(item.audio);
        } catch (err) {
          failures.set(item.id, (err as Error).message.split('\n')[0]);
          return null;
        }
      }),
    );
    const ok = batch.filter((_, k) => decoded[k] !== null);
    const clips = decoded.filter((c) => c !== null);
    if (clips.length > 0) {
      try {
        parts.push(await clap.embedAudio(clips));
        ok.forEach((item) => rowOf.set(item.id, rows++));
      } catch {
        // One bad clip fails the whole batch call: embed one by one to find it.
        for (const [k, item] of ok.entries()) {
          try {
            parts.push(await clap.embedAudio([clips[k]]));
            rowOf.set(item.id, rows++);
          } catch (err) {
            failures.set(item.id, `CLAP could not embed the clip: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
    }
    onProgress?.(Math.min(items.length, i + batchSize));
  }
  const embeddings = parts.length ? concatEmbeddings(parts) : createEmbeddings(0, clap.dim);
  return { embeddings, rowOf, failures };
}

export interface Answer {
  id: string;
  /** The generated text ('' when the item failed). */
  output: string;
  /** Why the item could not be answered, or null. */
  error: string | null;
}

/**
 * Answers every item: audio embedding -> modal transfer (`method`) -> mapper prefix -> generation
 * after the prompt. Items whose audio failed get output '' and their error.
 */
export async function answerItems(
  run: OpenRun,
  items: AskItem[],
  emb: ItemEmbeddings,
  method: SantaMethod,
  config: MatsConfig,
  onProgress?: (done: number) => void,
): Promise<Answer[]> {
  const santaOptions = {
    topL: config.santa.topL,
    tau: config.santa.tau,
    lambda: config.santa.lambda,
    normalizeAudio: config.santa.normalizeAudio,
    padClusters: config.santa.padClusters,
    queryNoise: config.santa.queryNoise ? run.trained.train.noiseVariance : 0,
    rng: new Rng(`${config.seed}/santa-query`),
  };
  const g = config.eval.generation;
  const genOptions = {
    maxNewTokens: g.maxNewTokens,
    numBeams: g.strategy === 'beam' ? g.beams : 1,
    noRepeatNgramSize: g.noRepeatNgram,
    repetitionPenalty: g.repetitionPenalty,
  };
  // "noise-only" is the identity (normalised z): what MATS-Audio, trained on audio embeddings, uses too.
  const z = emb.embeddings.rows > 0 ? transfer(method, emb.embeddings, run.memory, santaOptions) : emb.embeddings;
  const prefixes = z.rows > 0 ? await run.mapper.forward(z, { batchSize: config.eval.batchSize }) : null;
  const [, P, C] = prefixes?.shape ?? [0, 0, 0];
  const out: Answer[] = [];
  const promptCache = new Map<string, number[]>();
  for (const [i, item] of items.entries()) {
    const failure = emb.failures.get(item.id);
    const row = emb.rowOf.get(item.id);
    if (failure !== undefined || row === undefined) {
      out.push({ id: item.id, output: '', error: failure ?? 'no audio embedding' });
    } else {
      let promptIds = promptCache.get(item.prompt);
      if (!promptIds) {
        promptIds = run.tokenizer.encode(item.prompt);
        promptCache.set(item.prompt, promptIds);
      }
      const prefix = { data: prefixes!.data.subarray(row * P * C, (row + 1) * P * C), shape: [P, C] as [number, number] };
      const result = generate(run.llm, { prefix, promptIds }, genOptions);
      out.push({ id: item.id, output: result.ids.length > 0 ? run.tokenizer.decode(result.ids).trim() : '', error: null });
    }
    onProgress?.(i + 1);
  }
  return out;
}
