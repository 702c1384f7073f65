/** The evaluator's view of a trained run: a `MatsModel` opened with the effective config, and items to ask it. */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { ClapEncoder } from '@mats/clap';
import { EXPORT_FILES, type LoadedMatsModel, MatsModel, isExportFolder, readManifest } from '@mats/model';
import { type MatsConfig, type SantaMethod, RUN_FILES, modelSpec, readJson, resolvePath } from '@mats/app-shared';

/**
 * A trained run, ready to answer: a run folder on tfjs, or an export folder (`mats export`) on
 * onnxruntime-node (`engine` says which).
 */
export type OpenRun = LoadedMatsModel;

/** The folder of `eval.run`, checked: a finished run folder (tfjs) or an export folder (ONNX Runtime). */
export function findRun(runPath: string): { dir: string; engine: 'tfjs' | 'onnx' } {
  const path = resolvePath(runPath);
  if (!existsSync(path)) throw new Error(`eval.run: ${path} does not exist (train a model first: npx nx run trainer:train)`);
  const dir = realpathSync(path);
  if (isExportFolder(dir)) return { dir, engine: 'onnx' };
  for (const f of [RUN_FILES.config, RUN_FILES.mapper, RUN_FILES.adapterModel, RUN_FILES.santa]) {
    if (!existsSync(join(dir, f))) throw new Error(`eval.run: ${dir} has no ${f} (is the training finished?)`);
  }
  return { dir, engine: 'tfjs' };
}

/**
 * Reads a run's stored config: the trainer's config.json of a run folder, or of an export folder
 * the copy the export made of it (run-config.json).
 */
export function readRunConfig(runPath: string): { dir: string; engine: 'tfjs' | 'onnx'; config: MatsConfig } {
  const { dir, engine } = findRun(runPath);
  if (engine === 'tfjs') return { dir, engine, config: readJson<{ config: MatsConfig }>(join(dir, RUN_FILES.config), 'run config').config };
  const file = join(dir, readManifest(dir).files.runConfig ?? EXPORT_FILES.runConfig);
  if (!existsSync(file)) {
    throw new Error(`eval.run: ${dir} is an ONNX export without its run's trainer config (no ${file}: it was not exported from a trainer's run folder); pass --preset NAME or --config FILE to say how to evaluate it`);
  }
  return { dir, engine, config: readJson<{ config: MatsConfig }>(file, 'run config').config };
}

/**
 * Opens a run with the models and settings of `config` (normally the run's own config plus any
 * overrides). An export folder takes the inference settings of `config` (method, Santa,
 * generation, batch size, seed); its .onnx files are the model.
 */
export function openRun(dir: string, config: MatsConfig, clap?: ClapEncoder): Promise<OpenRun> {
  return MatsModel.load(dir, { spec: modelSpec(config), clap, backend: config.backend, wasmThreads: config.wasmThreads, intraOpThreads: config.eval.onnxThreads ?? undefined });
}

/** Which engine answers, in words (reports). */
export function engineName(run: OpenRun, config: MatsConfig): string {
  if (run.engine === 'tfjs') return `tfjs (backend ${config.backend})`;
  const threads = config.eval.onnxThreads;
  return `ONNX Runtime (onnxruntime-node, export folder${threads === null ? '' : `, ${threads} intra-op thread${threads === 1 ? '' : 's'}`})`;
}

export async function closeRun(run: OpenRun): Promise<void> {
  await run.dispose();
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
  vectors: Map<string, Float32Array>;
  failures: Map<string, string>;
}

/** Embeds the items' clips in batches of `batchSize` (decoded clips in memory are bounded by it). */
export async function embedItems(run: OpenRun, items: AskItem[], batchSize: number, onProgress?: (done: number) => void): Promise<ItemEmbeddings> {
  const vectors = new Map<string, Float32Array>();
  const failures = new Map<string, string>();
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = items.slice(i, i + batchSize);
    const out = await run.embedAudio(batch.map((item) => item.audio));
    batch.forEach((item, k) => {
      if (out.errors[k] !== null) failures.set(item.id, out.errors[k]!);
      else vectors.set(item.id, out.vectors[k]!);
    });
    onProgress?.(Math.min(items.length, i + batchSize));
  }
  return { vectors, failures };
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
 * after the prompt, batched. Items whose audio failed get output '' and their error.
 */
export async function answerItems(run: OpenRun, items: AskItem[], emb: ItemEmbeddings, method: SantaMethod, onProgress?: (done: number) => void): Promise<Answer[]> {
  const ok = items.filter((item) => emb.vectors.has(item.id));
  const answers = await run.ask(
    ok.map((item) => ({ audio: emb.vectors.get(item.id)!, instruction: item.prompt })),
    { method, onProgress: (done) => onProgress?.(done) },
  );
  const byId = new Map(ok.map((item, i) => [item.id, answers[i]]));
  return items.map((item) => {
    const a = byId.get(item.id);
    if (!a) return { id: item.id, output: '', error: emb.failures.get(item.id) ?? 'no audio embedding' };
    return { id: item.id, output: a.answer, error: a.error };
  });
}
