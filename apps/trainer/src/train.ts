/**
 * The trainer: MATS (text only, paper eq. 1-2) or MATS-Audio, in named stages -
 * `prepareEmbeddings` (the CLAP embedding cache; `prepareStreamingData` with `data.streaming`),
 * `buildOrLoadMemory` (Santa's memory), `buildModel` (a `MatsModel` with a fresh or checkpointed
 * mapper and LoRA adapter) - then a `Trainer` that steps, validates, checkpoints and resumes exactly.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  type Embeddings,
  describeBackend,
  Rng,
  type RngState,
  createProgress,
  formatDuration,
  getFloatTensor,
  readSafetensors,
  selectBackend,
  selectRows,
  writeSafetensors,
} from '@mats/core';
import { type ClapEncoder, embedAudioFiles } from '@mats/clap';
import { AdamW, type CausalLM, type PrefixLmExample, learningRateAt, saveLora, trainStep } from '@mats/llm-lora';
import { MatsModel } from '@mats/model';
import { buildMemory, injectNoise, loadMemory, saveMemory, type SantaMemory } from '@mats/santa';
import {
  type CacheSpec,
  type CheckpointRef,
  ConfigSchema,
  type Figure3Stats,
  type MatsConfig,
  RUN_FILES,
  appendMetrics,
  baseDir,
  cacheLayout,
  cleanCheckpointTemps,
  clapFingerprint,
  embedParts,
  ensureWorld,
  lastMetricValue,
  latestCheckpoint,
  loadClap,
  loadLlm,
  lockRun,
  mergeParts,
  modelSpec,
  pointLatest,
  readJson,
  readMerged,
  readMetrics,
  resolvePath,
  runVersions,
  shardParts,
  truncateMetrics,
  tryPicture,
  writeCheckpoint,
  writeFigure3,
  writeJson,
  writeLossCurve,
} from '@mats/app-shared';
import { type BatchSource, type BatchSourceState, InMemoryBatches, StreamingBatches } from './batches.js';
import { GradientWorkers, type ShareChunk, shareDropoutRng, shareRows } from './parallel.js';
import { type PreparedEmbeddings, type TrainRecord, type TrainingData, loadTrainingData, uniqueIndex } from './data.js';
import { StreamingTrainingData } from './stream-data.js';
import { wasmHeapMiB } from './heap.js';

export type { PreparedEmbeddings };

export interface TrainOptions {
  /** Continue from the run folder's latest checkpoint. */
  resume?: boolean;
  /** Delete an existing run folder of the same name first. */
  overwrite?: boolean;
  /** `all` (default), or only the embedding cache: `embed` (optionally one shard) / `merge`. */
  stage?: 'all' | 'embed' | 'merge';
  shard?: { index: number; count: number };
  /** Stop after this step (a checkpoint is written there), as if the process had been killed. */
  stopAfterStep?: number;
  /** Skip the pictures (tests). */
  pictures?: boolean;
  /** Where messages go (default stderr). */
  log?: (line: string) => void;
  /** Progress display (default: automatic). */
  progress?: 'bar' | 'log' | 'silent';
  /** Components supplied by the caller instead of the config's files (tests). */
  components?: { clap?: ClapEncoder; llm?: CausalLM };
}

export interface TrainResult {
  runDir: string;
  /** The last step trained. */
  step: number;
  /** True when stopped early by stopAfterStep. */
  stopped: boolean;
  finalLoss: number | null;
  validationLoss: number | null;
  seconds: number;
}

/** A checkpoint's state.json: the step, the rng streams, and the data position (`sampler` or `data`). */
type CheckpointState = {
  step: number;
  rng: { noise: RngState; dropout: RngState };
  lossWindow: number[];
} & BatchSourceState;

/** Everything a run folder's config.json must agree on for `--resume` to continue exactly (wasmThreads changes speed only). */
function resumeKey(config: MatsConfig): unknown {
  const { eval: _eval, train, wasmThreads: _threads, ...rest } = config;
  const { steps: _steps, logEvery: _l, validateEvery: _v, checkpointEvery: _c, keepCheckpoints: _k, ...trainRest } = train;
  return { ...rest, train: trainRest };
}

function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return JSON.stringify(a) === JSON.stringify(b) ? null : path || '(top level)';
  }
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return null;
}

/** The run folder of a config. */
export function runDirOf(config: MatsConfig): string {
  return resolvePath(join(config.runsDir, config.name));
}

/**
 * Stage 1: CLAP embeddings of every distinct training text (and clip, for MATS-Audio) through the
 * sharded cache. With `stage: 'embed'` only this shard's parts are filled and null is returned.
 */
export async function prepareEmbeddings(config: MatsConfig, data: TrainingData, clap: ClapEncoder, options: TrainOptions = {}): Promise<PreparedEmbeddings | null> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stage = options.stage ?? 'all';
  const audio = config.train.variant === 'audio';
  const allRecords = [...data.train.flat(), ...data.validation];
  const texts = uniqueIndex(allRecords.map((r) => r.text));
  const textCache: CacheSpec = { dir: resolvePath(config.cache.dir), modelKey: clapFingerprint(config), kind: 'text', items: texts.unique, partSize: config.cache.partSize };
  const clips = audio ? uniqueIndex(allRecords.map((r) => r.audio!)) : null;
  const caches: [CacheSpec, (items: string[]) => Promise<Embeddings>][] = [[textCache, (items) => clap.embedText(items)]];
  if (clips) caches.push([{ ...textCache, kind: 'audio', items: clips.unique }, (items) => embedClipsOfRecords(clap, items, allRecords)]);
  const embeddings: Embeddings[] = [];
  for (const [spec, embed] of caches) {
    if (stage !== 'merge' && !readMerged(spec)) {
      const layout = cacheLayout(spec);
      const mine = options.shard ? shardParts(layout.parts, options.shard.index, options.shard.count).length : layout.parts;
      const progress = createProgress({ label: `embed ${spec.kind} (${spec.items.length} items)`, total: mine, unit: 'parts', mode: options.progress });
      const result = await embedParts(spec, embed, { shard: options.shard, onPart: (done) => progress.update(done) });
      progress.stop();
      log(`embedding cache (${spec.kind}, ${spec.items.length} items): ${result.embedded} part(s) embedded, ${result.skipped} already there, in ${result.layout.folder}`);
    }
    if (stage === 'embed') continue;
    embeddings.push(readMerged(spec) ?? mergeParts(spec));
  }
  if (stage !== 'all') return null;
  const inputRow = clips ? (r: TrainRecord) => clips.rowOf.get(r.audio!)! : (r: TrainRecord) => texts.rowOf.get(r.text)!;
  return { texts, textEmbeddings: embeddings[0], inputs: clips ? embeddings[1] : embeddings[0], inputRow };
}

/**
 * Stage 1 with `data.streaming`: opens the JSONL sources (one counting pass each) and fills this
 * shard's parts of the per-source embedding caches. Null with `stage: 'embed'` or `'merge'` (a
 * streamed cache has nothing to merge: its parts are read as they are).
 */
export async function prepareStreamingData(config: MatsConfig, clap: ClapEncoder, options: TrainOptions = {}): Promise<StreamingTrainingData | null> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stage = options.stage ?? 'all';
  const variant = config.train.variant === 'audio' ? 'audio' : 'text';
  const data = await StreamingTrainingData.open(config, { modelKey: clapFingerprint(config), variant, skipBad: config.data.skipBad, log });
  if (stage === 'merge') {
    log('embedding cache: data.streaming reads the parts as they are; there is nothing to merge');
    return null;
  }
  for (const [kind, embed] of Object.entries(streamEncoders(clap, variant))) {
    const parts = data.sources.map((s) => Math.ceil(s.records / config.cache.partSize));
    const mine = parts.reduce((n, p) => n + (options.shard ? shardParts(p, options.shard.index, options.shard.count).length : p), 0);
    const progress = createProgress({ label: `embed ${kind} (${data.sources.length} source(s))`, total: mine, unit: 'parts', mode: options.progress });
    let done = 0;
    const result = await data.embed(kind as 'text' | 'audio', embed, { shard: options.shard, onPart: () => progress.update(++done) });
    progress.stop();
    log(`embedding cache (${kind}, streamed, ${data.sources.reduce((n, s) => n + s.records, 0)} records): ${result.embedded} part(s) embedded, ${result.skipped} already there`);
  }
  if (stage === 'embed') {
    await data.close();
    return null;
  }
  return data;
}

/** The encoders of the streamed caches: texts always (Santa's memory), clips for MATS-Audio. */
function streamEncoders(clap: ClapEncoder, variant: 'text' | 'audio'): { text: (items: string[]) => Promise<Embeddings>; audio?: (items: string[]) => Promise<Embeddings> } {
  const text = (items: string[]) => clap.embedText(items);
  if (variant === 'text') return { text };
  return { text, audio: (items) => embedAudioFiles(clap, items) };
}

/**
 * The CLAP embeddings of clips (files read one at a time, only as far as the crop needs); an error
 * names the file (embedAudioFiles) and the records that use it.
 */
async function embedClipsOfRecords(clap: ClapEncoder, paths: string[], records: TrainRecord[]): Promise<Embeddings> {
  try {
    return await embedAudioFiles(clap, paths);
  } catch (err) {
    const message = (err as Error).message;
    const path = paths.find((p) => message.startsWith(`${p}:`));
    const users = path === undefined ? [] : records.filter((r) => r.audio === path).map((r) => JSON.stringify(r.id));
    if (users.length === 0) throw err;
    const more = users.length > 3 ? ` and ${users.length - 3} more` : '';
    throw new Error(`${message} (the clip of record${users.length > 1 ? 's' : ''} ${users.slice(0, 3).join(', ')}${more})`, { cause: err });
  }
}

/**
 * Stage 2: Santa's memory - noisy embeddings of (at most M of) the distinct training texts (with
 * `data.streaming`, a seeded reservoir sample of M training records), clustered with k-means and
 * saved; a resumed run reads the saved one.
 */
export async function buildOrLoadMemory(config: MatsConfig, runDir: string, batches: BatchSource, resume: boolean, log: (line: string) => void): Promise<SantaMemory> {
  const memoryFile = join(runDir, RUN_FILES.santa);
  if (resume && existsSync(memoryFile)) return loadMemory(memoryFile);
  const t0 = Date.now();
  const texts = await batches.memoryTexts(config.santa.memorySize);
  const m = Math.min(config.santa.memorySize, texts.rows);
  if (config.santa.k > m) throw new Error(`santa.k: ${config.santa.k} clusters but the memory has only ${m} texts (santa.memorySize ${config.santa.memorySize}, ${texts.rows} distinct training texts)`);
  const memory = buildMemory(texts, {
    k: config.santa.k,
    variance: config.train.noiseVariance,
    iterations: config.santa.iterations,
    seed: config.seed,
    maxSize: config.santa.memorySize,
  });
  saveMemory(memoryFile, memory);
  log(`santa memory: ${memory.memory.rows} texts in ${memory.centroids.rows} clusters (${((Date.now() - t0) / 1000).toFixed(1)} s) -> ${memoryFile}`);
  return memory;
}

/** Stage 3: the model to train - a fresh mapper and LoRA adapter, or those of a checkpoint. */
export function buildModel(config: MatsConfig, parts: { clap: ClapEncoder; llm: CausalLM; memory: SantaMemory }, checkpoint: CheckpointRef | null): MatsModel {
  return MatsModel.create(modelSpec(config), { ...parts, checkpoint: checkpoint?.dir });
}

/**
 * The training loop's state: data position, optimizer, noise and dropout streams, step. `trainStep()`
 * is one AdamW update over `train.batchSize` records (as `train.microBatch`-sized micro-batches whose
 * gradients are summed, when set); it reads nothing from the backend: its loss stays a tensor until
 * `readLosses()` (at the log, validation and checkpoint steps), which also stops a diverged run.
 * `checkpoint()` and `start()` save and restore all of it, so a resumed run is bit-identical to an
 * uninterrupted one.
 */
export class Trainer {
  step = 0;
  /** Losses read since the last log (see readLosses). */
  lossWindow: number[] = [];
  lr = 0;
  /** Losses of the steps not read yet, with their step numbers. */
  private pending: { step: number; loss: tf.Scalar }[] = [];
  private readonly optimizer: AdamW;
  private readonly noiseRng: Rng;
  private readonly dropoutRng: Rng;
  /**
   * Tokenisations by record object: in memory each record is tokenised once; streamed training
   * records are new objects on every draw (tokenised per draw, nothing kept), the streamed
   * validation records are kept and tokenised once.
   */
  private readonly examples = new WeakMap<TrainRecord, PrefixLmExample>();
  /** The worker threads of train.workers > 1 (started by `start`, ended by `close`). */
  private workers: GradientWorkers | null = null;

  constructor(
    readonly model: MatsModel,
    readonly config: MatsConfig,
    readonly batches: BatchSource,
    readonly runDir: string,
  ) {
    this.optimizer = new AdamW(model.trainableVariables, { weightDecay: config.train.weightDecay });
    this.noiseRng = new Rng(`${config.seed}/noise`);
    this.dropoutRng = new Rng(`${config.seed}/dropout`);
  }

  private example(record: TrainRecord): PrefixLmExample {
    let e = this.examples.get(record);
    if (!e) this.examples.set(record, (e = this.model.encodeExample(record, `record "${record.id}"`)));
    return e;
  }

  private noise(rng: Rng) {
    return this.config.train.variant === 'audio' ? null : { variance: this.config.train.noiseVariance, rng };
  }

  private learningRate(step: number): number {
    const t = this.config.train;
    if (t.schedule === 'constant') return step < t.warmupSteps ? (t.lr * step) / t.warmupSteps : t.lr;
    return learningRateAt(step, { peakLr: t.lr, warmupSteps: t.warmupSteps, totalSteps: t.steps, decay: t.schedule === 'cosine' ? 'cosine' : 'linear' });
  }

  /** One update; its loss is kept as a tensor for `readLosses` (nothing is read here). */
  async trainStep(): Promise<void> {
    const t = this.config.train;
    const { records, inputs } = await this.batches.next(t.batchSize);
    this.lr = this.learningRate(this.step);
    const options = { lr: this.lr, maxGradNorm: t.gradClip > 0 ? t.gradClip : undefined };
    let result;
    if (t.workers > 1) {
      if (!this.workers) throw new Error(`train.workers: ${t.workers}: the worker threads are not running (Trainer.start() starts them, close() ends them)`);
      result = await this.parallelStep(records, inputs, this.workers, options);
    } else {
      const chunks = microBatches(Array.from(records.keys()), t.microBatch);
      // With micro-batches every loss is divided by the whole batch's token count, so the summed
      // gradients are the full batch's.
      const denominator = chunks.length > 1 ? this.lossTokens(records) : undefined;
      const losses = chunks.map((chunk) => () =>
        this.model.trainingLoss(
          { embeddings: chunks.length === 1 ? inputs : selectRows(inputs, chunk), examples: chunk.map((k) => this.example(records[k])) },
          { noise: this.noise(this.noiseRng), training: true, dropoutRng: this.dropoutRng, denominator },
        ),
      );
      result = await trainStep(losses.length === 1 ? losses[0] : losses, this.optimizer, options);
    }
    result.gradNorm?.dispose();
    this.step++;
    this.pending.push({ step: this.step, loss: result.loss });
  }

  /** Answer + eos tokens of a batch: what the loss is divided by. */
  private lossTokens(records: TrainRecord[]): number {
    return records.reduce((n, r) => n + this.example(r).answer.length + 1, 0);
  }

  /**
   * train.workers > 1: the batch in contiguous shares (each cut into train.microBatch rows when
   * set), the noise drawn here for every micro-batch in batch order (as the single-thread path draws
   * it), share 0 computed on this thread while the workers compute the others, all gradients summed
   * before clipping and AdamW. LoRA dropout of share k draws from shareDropoutRng(seed, step, k).
   */
  private async parallelStep(records: TrainRecord[], inputs: Embeddings, workers: GradientWorkers, options: { lr: number; maxGradNorm?: number }) {
    const step = this.step + 1;
    const denominator = this.lossTokens(records);
    const noise = this.noise(this.noiseRng);
    const shares: ShareChunk[][] = shareRows(records.length, workers.count).map((rows) =>
      microBatches(rows, this.config.train.microBatch).map((chunk) => {
        const rowsOf = selectRows(inputs, chunk);
        return { embeddings: noise && noise.variance > 0 ? injectNoise(rowsOf, noise) : rowsOf, examples: chunk.map((k) => this.example(records[k])) };
      }),
    );
    const values = await Promise.all(this.optimizer.variables.map(async (v) => (await v.data()) as Float32Array));
    const others = workers.gradients(step, values, shares.slice(1), denominator);
    const dropoutRng = shareDropoutRng(this.config.seed, step, 0);
    const losses = shares[0].map((chunk) => () => this.model.trainingLoss(chunk, { noise: null, training: true, dropoutRng, denominator }));
    return trainStep(losses, this.optimizer, { ...options, extraGradients: others });
  }

  /**
   * Reads the losses of the steps since the last read into `lossWindow` and returns them; throws at
   * the first non-finite one (training diverged). The only place the training loop waits for the
   * backend.
   */
  async readLosses(): Promise<number[]> {
    const pending = this.pending;
    this.pending = [];
    const values = await Promise.all(pending.map(async (p) => (await p.loss.data())[0]));
    tf.dispose(pending.map((p) => p.loss));
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`training diverged: loss ${values[bad]} at step ${pending[bad].step} (lower train.lr?)`);
    this.lossWindow.push(...values);
    return values;
  }

  /** Mean loss over the held-out records, with the same noise at every validation. */
  async validate(): Promise<number | null> {
    if (this.batches.validationRecords === 0) return null;
    const rng = new Rng(`${this.config.seed}/validation-noise`);
    let total = 0;
    let count = 0;
    for await (const { records, inputs } of this.batches.validation(this.config.train.batchSize)) {
      const batch = { embeddings: inputs, examples: records.map((r) => this.example(r)) };
      const value = tf.tidy(() => this.model.trainingLoss(batch, { noise: this.noise(rng), training: false }));
      total += (await value.data())[0] * records.length;
      value.dispose();
      count += records.length;
    }
    return total / count;
  }

  /** Writes checkpoints/step-N (mapper, adapter, optimizer moments, data position and rng state). */
  async checkpoint(): Promise<void> {
    await this.readLosses();
    await writeCheckpoint(
      this.runDir,
      this.step,
      async (dir) => {
        await this.model.mapper.saveAsync(join(dir, RUN_FILES.mapper));
        await saveLora(this.model.adapter, dir);
        await writeOptimizer(join(dir, 'optimizer.safetensors'), this.optimizer);
        const state: CheckpointState = { step: this.step, rng: { noise: this.noiseRng.getState(), dropout: this.dropoutRng.getState() }, ...this.batches.getState(), lossWindow: this.lossWindow };
        writeJson(join(dir, 'state.json'), state);
      },
      this.config.train.keepCheckpoints,
    );
  }

  /**
   * Opens the data at its start, or restores the optimizer, data position, rng streams and step of a
   * checkpoint (the weights are the model's).
   */
  async start(checkpoint: CheckpointRef | null): Promise<void> {
    if (this.config.train.workers > 1 && !this.workers) this.workers = await GradientWorkers.start(this.config, { clapDim: this.model.dim, sizes: this.optimizer.sizes });
    if (!checkpoint) return this.batches.start();
    const state = readJson<CheckpointState>(join(checkpoint.dir, 'state.json'), 'checkpoint state');
    this.optimizer.setState(readOptimizer(join(checkpoint.dir, 'optimizer.safetensors'), this.optimizer.variables.length));
    await this.batches.start(state);
    this.noiseRng.setState(state.rng.noise);
    this.dropoutRng.setState(state.rng.dropout);
    this.step = state.step;
    this.lossWindow = state.lossWindow;
  }

  /** The wasm heap of each worker thread of train.workers > 1 at its latest step, in MiB (its peak: a wasm heap only grows). */
  workerHeapMiB: (number | null)[] = [];

  /** Ends the worker threads of train.workers > 1 (nothing to do with one thread). */
  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = null;
    if (workers) this.workerHeapMiB = [...workers.heapMiB];
    await workers?.close();
  }
}

/** Rows in micro-batches of `micro` (null: all at once). */
function microBatches(rows: number[], micro: number | null): number[][] {
  const size = micro ?? rows.length;
  const chunks: number[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}

/**
 * Trains MATS (or MATS-Audio with `train.variant: audio`): embeds the training texts with the frozen
 * CLAP text encoder (cached), builds and saves Santa's memory, then trains the mapper and the LoRA
 * adapter of the frozen LLM on noisy text embeddings, with validation, checkpoints and exact resume.
 */
export async function train(config: MatsConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const stage = options.stage ?? 'all';
  const backend = await selectBackend(config.backend, { wasmThreads: config.wasmThreads });
  log(`backend: ${describeBackend(backend)} (requested ${backend.requested})`);
  if (config.world) await ensureWorld(config, log);

  const runDir = runDirOf(config);
  // One process per run folder: a second trainer (or --overwrite) on a live run is refused.
  const lock = stage === 'all' ? lockRun(runDir) : null;
  // What must end however the run ends (the worker threads of train.workers).
  const closers: (() => Promise<void>)[] = [];
  try {
    return await trainLocked(config, options, runDir, log, started, closers);
  } finally {
    for (const close of closers) await close();
    lock?.release();
  }
}

async function trainLocked(config: MatsConfig, options: TrainOptions, runDir: string, log: (line: string) => void, started: number, closers: (() => Promise<void>)[]): Promise<TrainResult> {
  const stage = options.stage ?? 'all';
  if (stage === 'all') {
    prepareRunDir(runDir, config, options);
    cleanCheckpointTemps(runDir);
  }
  if (config.train.workers > 1 && options.components?.llm) {
    throw new Error(`train.workers: ${config.train.workers} workers load the LLM from llm.dir (${config.llm.dir}); a caller-supplied LLM (options.components.llm) cannot be shared with them`);
  }
  // The LLM first: a mapper that cannot feed it is an error before any embedding is computed.
  const llm = stage === 'all' ? (options.components?.llm ?? loadLlm(config)) : null;
  if (llm) checkWidths(config, llm);
  const clap = options.components?.clap ?? (await loadClap(config));
  const batches = config.data.streaming ? await streamedBatches(config, clap, options) : await inMemoryBatches(config, clap, options);
  if (!batches) {
    await clap.dispose();
    return { runDir, step: 0, stopped: false, finalLoss: null, validationLoss: null, seconds: (Date.now() - started) / 1000 };
  }
  log(`data: ${batches.trainRecords} training records from ${config.data.train.length} source(s)${config.data.streaming ? ' (streamed)' : ''}, ${batches.validationRecords} held out for validation`);
  const memory = await buildOrLoadMemory(config, runDir, batches, options.resume ?? false, log);
  const checkpoint = options.resume ? latestCheckpoint(runDir) : null;
  const model = buildModel(config, { clap, llm: llm!, memory }, checkpoint);
  const trainer = new Trainer(model, config, batches, runDir);
  closers.push(() => trainer.close());
  await trainer.start(checkpoint);
  if (config.train.workers > 1) log(`train.workers: each step's batch of ${config.train.batchSize} is computed by ${config.train.workers} threads (this one and ${config.train.workers - 1} worker thread(s))`);
  if (checkpoint) {
    truncateMetrics(runDir, trainer.step);
    log(`resuming ${runDir} from step ${trainer.step} (${checkpoint.dir})`);
  } else {
    if (options.resume) log(`--resume: ${runDir} has no checkpoint yet; starting at step 0`);
    rmSync(join(runDir, RUN_FILES.metrics), { force: true });
  }

  const steps = config.train.steps;
  let lastLoss: number | null = null;
  let lastValidation: number | null = null;
  const progress = createProgress({ label: `train ${config.name}`, total: steps, unit: 'steps', mode: options.progress });
  progress.update(trainer.step);
  let windowStart = Date.now();
  let windowSamples = 0;
  let stopped = false;
  while (trainer.step < steps) {
    await trainer.trainStep();
    const step = trainer.step;
    windowSamples += config.train.batchSize;
    if (step % config.train.logEvery === 0 || step === steps) {
      // The loss is read here only: steps in between never wait for the backend.
      await trainer.readLosses();
      const seconds = (Date.now() - windowStart) / 1000;
      const mean = trainer.lossWindow.reduce((a, b) => a + b, 0) / trainer.lossWindow.length;
      appendMetrics(runDir, { step, loss: round(mean), lr: trainer.lr, samplesPerSecond: significant(windowSamples / Math.max(seconds, 1e-9), 3) });
      trainer.lossWindow = [];
      windowStart = Date.now();
      windowSamples = 0;
      lastLoss = mean;
    }
    // Before the first log step no loss has been read: the bar shows none rather than NaN.
    progress.update(step, lastLoss === null ? { lr: trainer.lr } : { loss: lastLoss, lr: trainer.lr });
    if ((config.train.validateEvery > 0 && step % config.train.validateEvery === 0) || step === steps) {
      await trainer.readLosses();
      lastValidation = await trainer.validate();
      if (lastValidation !== null) appendMetrics(runDir, { step, validationLoss: round(lastValidation) });
    }
    const stopHere = options.stopAfterStep === step && step < steps;
    if ((config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) || step === steps || stopHere) await trainer.checkpoint();
    if (stopHere) {
      stopped = true;
      // checkpoint() read the pending losses: the last one is this step's.
      lastLoss = trainer.lossWindow.at(-1) ?? lastLoss;
      break;
    }
  }
  progress.stop();
  await trainer.close();

  // Resumed from the final checkpoint, no step ran here: the numbers are the logged ones.
  const metrics = readMetrics(runDir);
  lastLoss ??= lastMetricValue(metrics, 'loss');
  lastValidation ??= lastMetricValue(metrics, 'validationLoss');
  if (!stopped) {
    await model.save(runDir);
    // Pictures never fail a finished run: an unreadable clip is skipped and listed, any other
    // failure is reported in the summary.
    const pictureErrors: string[] = [];
    let figure3: Figure3Stats | null = null;
    if (options.pictures ?? true) {
      const lossError = await tryPicture(RUN_FILES.lossPlot, () => writeLossCurve(join(runDir, RUN_FILES.lossPlot), metrics, `MATS training (${config.name})`));
      if (lossError) pictureErrors.push(lossError);
      const pairs = await batches.figurePairs(config.seed);
      if (pairs.length >= 10) {
        const figureError = await tryPicture(RUN_FILES.figure3, async () => {
          figure3 = await writeFigure3(join(runDir, RUN_FILES.figure3), clap, memory, pairs, config);
          writeJson(join(runDir, 'figure3.json'), figure3);
        });
        if (figureError) pictureErrors.push(figureError);
      } else {
        log('figure 3 skipped: the training records carry no audio paths to pair with their texts');
      }
      for (const e of pictureErrors) log(`picture not written: ${e}`);
    }
    const summary = {
      name: config.name,
      variant: config.train.variant,
      steps,
      finalLoss: lastLoss,
      validationLoss: lastValidation,
      seconds: (Date.now() - started) / 1000,
      streaming: config.data.streaming,
      trainRecords: batches.trainRecords,
      validationRecords: batches.validationRecords,
      ...batches.report(),
      memory: { rows: memory.memory.rows, clusters: memory.centroids.rows },
      mapperParameters: model.mapper.parameterCount,
      loraParameters: model.loraParameterCount,
      // The wasm heap only grows: at the end of the run it is the run's peak (null on other backends);
      // this thread's, and each worker thread's with train.workers > 1 (each holds its own LLM).
      peakHeapMiB: wasmHeapMiB(),
      workerPeakHeapMiB: trainer.workerHeapMiB,
      pictures: { errors: pictureErrors, skippedClips: (figure3 as Figure3Stats | null)?.skippedClips ?? [] },
    };
    writeJson(join(runDir, RUN_FILES.summary), summary);
    pointLatest(runDir);
    log(`run folder: ${runDir} (runs/latest points here); trained ${steps} steps in ${formatDuration(summary.seconds)}, final loss ${lastLoss?.toFixed(4)}, validation loss ${lastValidation?.toFixed(4) ?? 'n/a'}${summary.peakHeapMiB !== null ? `, peak wasm heap ${summary.peakHeapMiB} MiB` : ''}${trainer.workerHeapMiB.some((h) => h !== null) ? ` (worker threads: ${trainer.workerHeapMiB.join(', ')} MiB)` : ''}`);
  }
  model.mapper.dispose();
  await batches.close();
  await clap.dispose();
  return { runDir, step: trainer.step, stopped, finalLoss: lastLoss, validationLoss: lastValidation, seconds: (Date.now() - started) / 1000 };
}

/** The in-memory data path: every record and the merged cache (null when only embedding). */
async function inMemoryBatches(config: MatsConfig, clap: ClapEncoder, options: TrainOptions): Promise<BatchSource | null> {
  if (config.data.skipBad) throw new Error('data.skipBad: skipping malformed lines needs the streaming reader (data.streaming: true)');
  const data = await loadTrainingData(config, config.train.variant === 'audio');
  const prepared = await prepareEmbeddings(config, data, clap, options);
  return prepared ? new InMemoryBatches(data, prepared, config.seed, config.data.validationMax) : null;
}

/** The streaming data path (`data.streaming: true`; null when only embedding). */
async function streamedBatches(config: MatsConfig, clap: ClapEncoder, options: TrainOptions): Promise<BatchSource | null> {
  const data = await prepareStreamingData(config, clap, options);
  return data ? new StreamingBatches(data, streamEncoders(clap, config.train.variant === 'audio' ? 'audio' : 'text')) : null;
}

/** The mapper's output width must be the LLM's embedding size, or a projection must map it there. */
function checkWidths(config: MatsConfig, llm: CausalLM): void {
  const width = config.mapper.width ?? llm.config.nEmbd;
  if (!config.mapper.projection && width !== llm.config.nEmbd) {
    throw new Error(`mapper.width: ${width} differs from the LLM's n_embd ${llm.config.nEmbd} (${config.llm.dir}); set mapper.projection: true or mapper.width: null`);
  }
}

function round(v: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** `v` to `digits` significant digits (a paper-size step's 0.0996 samples/s stays readable). */
function significant(v: number, digits: number): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(digits));
}

function prepareRunDir(runDir: string, config: MatsConfig, options: TrainOptions): void {
  const configFile = join(runDir, RUN_FILES.config);
  if (existsSync(runDir) && readdirSync(runDir).length > 0) {
    if (options.overwrite) {
      rmSync(runDir, { recursive: true, force: true });
    } else if (options.resume) {
      if (existsSync(configFile)) {
        const stored = readJson<{ config: MatsConfig }>(configFile, 'run config');
        // Parsed again so the fields added since (with defaults, e.g. data.streaming) compare as their defaults.
        const parsed = ConfigSchema.safeParse(stored.config);
        const diff = firstDifference(resumeKey(parsed.success ? parsed.data : stored.config), resumeKey(config));
        if (diff) throw new Error(`--resume: ${configFile} has a different ${diff} than the current config; a resumed run must use the same settings (only train.steps, the logging/checkpoint intervals and wasmThreads may change)`);
      }
    } else {
      throw new Error(`run folder ${runDir} already exists: pass --resume to continue it, --overwrite to start it again, or --name <other> for a new run`);
    }
  }
  mkdirSync(runDir, { recursive: true });
  writeJson(configFile, { config, versions: runVersions(), baseDir: baseDir(), createdAt: new Date().toISOString() });
}

async function writeOptimizer(path: string, optimizer: AdamW): Promise<void> {
  const state = await optimizer.getState();
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
  state.m.forEach((m, i) => (tensors[`m.${i}`] = { data: m, shape: [m.length] }));
  state.v.forEach((v, i) => (tensors[`v.${i}`] = { data: v, shape: [v.length] }));
  writeSafetensors(path, tensors, { step: String(state.step), variables: String(state.m.length) });
}

function readOptimizer(path: string, variables: number) {
  const st = readSafetensors(path);
  const count = Number(st.metadata.variables);
  if (count !== variables) throw new Error(`${path}: optimizer state for ${count} variables, but the model has ${variables} trainable tensors`);
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    m.push(getFloatTensor(st, `m.${i}`, undefined, path));
    v.push(getFloatTensor(st, `v.${i}`, undefined, path));
  }
  return { step: Number(st.metadata.step), m, v };
}
