/**
 * The trainer: MATS (text only, paper eq. 1-2) or MATS-Audio, in named stages -
 * `prepareEmbeddings` (the CLAP embedding cache), `buildOrLoadMemory` (Santa's memory),
 * `buildModel` (a `MatsModel` with a fresh or checkpointed mapper and LoRA adapter) - then a
 * `Trainer` that steps, validates, checkpoints and resumes exactly.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  type Embeddings,
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
import type { ClapEncoder } from '@mats/clap';
import { decodeAudioFile } from '@mats/datasets';
import { AdamW, type CausalLM, type PrefixLmExample, learningRateAt, saveLora, trainStep } from '@mats/llm-lora';
import { MatsModel } from '@mats/model';
import { buildMemory, loadMemory, saveMemory, type SantaMemory } from '@mats/santa';
import {
  type CacheSpec,
  type CheckpointRef,
  type MatsConfig,
  RUN_FILES,
  appendMetrics,
  baseDir,
  cacheLayout,
  clapFingerprint,
  embedParts,
  ensureWorld,
  latestCheckpoint,
  loadClap,
  loadLlm,
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
  writeCheckpoint,
  writeFigure3,
  writeJson,
  writeLossCurve,
} from '@mats/app-shared';
import { type TrainRecord, type TrainingData, loadTrainingData, uniqueIndex } from './data.js';
import { MixedSampler, type SamplerState } from './sampler.js';

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

interface CheckpointState {
  step: number;
  rng: { noise: RngState; dropout: RngState };
  sampler: SamplerState;
  lossWindow: number[];
}

/** Everything a run folder's config.json must agree on for `--resume` to continue exactly. */
function resumeKey(config: MatsConfig): unknown {
  const { eval: _eval, train, ...rest } = config;
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

/** The CLAP rows the model is trained on, and the row of each record. */
export interface PreparedEmbeddings {
  /** Distinct texts of every record (training and validation), in first-seen order. */
  texts: { unique: string[]; rowOf: Map<string, number> };
  textEmbeddings: Embeddings;
  /** Text embeddings (MATS) or audio embeddings of the clips (MATS-Audio). */
  inputs: Embeddings;
  inputRow: (record: TrainRecord) => number;
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
  if (clips) caches.push([{ ...textCache, kind: 'audio', items: clips.unique }, async (items) => clap.embedAudio(await Promise.all(items.map((p) => decodeAudioFile(p))))]);
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
 * Stage 2: Santa's memory - noisy embeddings of (at most M of) the distinct training texts,
 * clustered with k-means and saved; a resumed run reads the saved one.
 */
export function buildOrLoadMemory(config: MatsConfig, runDir: string, data: TrainingData, prepared: PreparedEmbeddings, resume: boolean, log: (line: string) => void): SantaMemory {
  const memoryFile = join(runDir, RUN_FILES.santa);
  if (resume && existsSync(memoryFile)) return loadMemory(memoryFile);
  const trainTexts = uniqueIndex(data.train.flat().map((r) => r.text)).unique;
  const rows = trainTexts.map((t) => prepared.texts.rowOf.get(t)!);
  const m = Math.min(config.santa.memorySize, rows.length);
  if (config.santa.k > m) throw new Error(`santa.k: ${config.santa.k} clusters but the memory has only ${m} texts (santa.memorySize ${config.santa.memorySize}, ${rows.length} distinct training texts)`);
  const t0 = Date.now();
  const memory = buildMemory(selectRows(prepared.textEmbeddings, rows), {
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
 * The training loop's state: sampler, optimizer, noise and dropout streams, step. `step()` is one
 * AdamW update over `train.batchSize` records (as `train.microBatch`-sized micro-batches whose
 * gradients are summed, when set); `checkpoint()` and `resume()` save and restore all of it, so a
 * resumed run is bit-identical to an uninterrupted one.
 */
export class Trainer {
  step = 0;
  lossWindow: number[] = [];
  lr = 0;
  private readonly optimizer: AdamW;
  private readonly sampler: MixedSampler;
  private readonly noiseRng: Rng;
  private readonly dropoutRng: Rng;
  /** Each record is tokenised once. */
  private readonly examples = new WeakMap<TrainRecord, PrefixLmExample>();
  readonly validation: TrainRecord[];

  constructor(
    readonly model: MatsModel,
    readonly config: MatsConfig,
    readonly data: TrainingData,
    readonly prepared: PreparedEmbeddings,
    readonly runDir: string,
  ) {
    this.optimizer = new AdamW(model.trainableVariables, { weightDecay: config.train.weightDecay });
    this.sampler = new MixedSampler(
      data.train.map((s) => s.length),
      data.weights,
      config.seed,
    );
    this.noiseRng = new Rng(`${config.seed}/noise`);
    this.dropoutRng = new Rng(`${config.seed}/dropout`);
    this.validation = data.validation.slice(0, config.data.validationMax);
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

  /** One update; returns the batch loss. */
  trainStep(): number {
    const t = this.config.train;
    const records = this.sampler.next(t.batchSize).map((d) => this.data.train[d.source][d.index]);
    this.lr = this.learningRate(this.step);
    const micro = t.microBatch ?? records.length;
    const chunks: TrainRecord[][] = [];
    for (let i = 0; i < records.length; i += micro) chunks.push(records.slice(i, i + micro));
    // With micro-batches every loss is divided by the whole batch's token count, so the summed
    // gradients are the full batch's.
    const denominator = chunks.length > 1 ? records.reduce((n, r) => n + this.example(r).answer.length + 1, 0) : undefined;
    const losses = chunks.map((chunk) => () =>
      this.model.trainingLoss(
        { embeddings: selectRows(this.prepared.inputs, chunk.map(this.prepared.inputRow)), examples: chunk.map((r) => this.example(r)) },
        { noise: this.noise(this.noiseRng), training: true, dropoutRng: this.dropoutRng, denominator },
      ),
    );
    const { loss } = trainStep(losses.length === 1 ? losses[0] : losses, this.optimizer, { lr: this.lr, maxGradNorm: t.gradClip > 0 ? t.gradClip : undefined });
    if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at step ${this.step + 1} (lower train.lr?)`);
    this.step++;
    this.lossWindow.push(loss);
    return loss;
  }

  /** Mean loss over the held-out records, with the same noise at every validation. */
  validate(): number | null {
    if (this.validation.length === 0) return null;
    const rng = new Rng(`${this.config.seed}/validation-noise`);
    let total = 0;
    let count = 0;
    for (let i = 0; i < this.validation.length; i += this.config.train.batchSize) {
      const records = this.validation.slice(i, i + this.config.train.batchSize);
      const batch = { embeddings: selectRows(this.prepared.inputs, records.map(this.prepared.inputRow)), examples: records.map((r) => this.example(r)) };
      const value = tf.tidy(() => this.model.trainingLoss(batch, { noise: this.noise(rng), training: false }));
      total += value.dataSync()[0] * records.length;
      value.dispose();
      count += records.length;
    }
    return total / count;
  }

  /** Writes checkpoints/step-N (mapper, adapter, optimizer moments, sampler and rng state). */
  async checkpoint(): Promise<void> {
    await writeCheckpoint(
      this.runDir,
      this.step,
      async (dir) => {
        this.model.mapper.save(join(dir, RUN_FILES.mapper));
        await saveLora(this.model.adapter, dir);
        await writeOptimizer(join(dir, 'optimizer.safetensors'), this.optimizer);
        const state: CheckpointState = { step: this.step, rng: { noise: this.noiseRng.getState(), dropout: this.dropoutRng.getState() }, sampler: this.sampler.getState(), lossWindow: this.lossWindow };
        writeJson(join(dir, 'state.json'), state);
      },
      this.config.train.keepCheckpoints,
    );
  }

  /** Restores the optimizer, sampler, rng streams and step of a checkpoint (the weights are the model's). */
  resume(checkpoint: CheckpointRef): void {
    const state = readJson<CheckpointState>(join(checkpoint.dir, 'state.json'), 'checkpoint state');
    this.optimizer.setState(readOptimizer(join(checkpoint.dir, 'optimizer.safetensors'), this.optimizer.variables.length));
    this.sampler.setState(state.sampler);
    this.noiseRng.setState(state.rng.noise);
    this.dropoutRng.setState(state.rng.dropout);
    this.step = state.step;
    this.lossWindow = state.lossWindow;
  }
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
  const backend = await selectBackend(config.backend);
  log(`backend: ${backend.selected} (requested ${backend.requested})`);
  if (config.world) await ensureWorld(config, log);

  const runDir = runDirOf(config);
  if (stage === 'all') prepareRunDir(runDir, config, options);
  const data = await loadTrainingData(config, config.train.variant === 'audio');
  const trainCount = data.train.reduce((n, s) => n + s.length, 0);
  log(`data: ${trainCount} training records from ${data.files.length} source(s), ${data.validation.length} held out for validation`);

  const clap = options.components?.clap ?? (await loadClap(config));
  const prepared = await prepareEmbeddings(config, data, clap, options);
  if (!prepared) {
    await clap.dispose();
    return { runDir, step: 0, stopped: false, finalLoss: null, validationLoss: null, seconds: (Date.now() - started) / 1000 };
  }
  const memory = buildOrLoadMemory(config, runDir, data, prepared, options.resume ?? false, log);
  const checkpoint = options.resume ? latestCheckpoint(runDir) : null;
  const model = buildModel(config, { clap, llm: options.components?.llm ?? loadLlm(config), memory }, checkpoint);
  const trainer = new Trainer(model, config, data, prepared, runDir);
  if (checkpoint) {
    trainer.resume(checkpoint);
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
    lastLoss = trainer.trainStep();
    const step = trainer.step;
    windowSamples += config.train.batchSize;
    if (step % config.train.logEvery === 0 || step === steps) {
      const seconds = (Date.now() - windowStart) / 1000;
      const mean = trainer.lossWindow.reduce((a, b) => a + b, 0) / trainer.lossWindow.length;
      appendMetrics(runDir, { step, loss: round(mean), lr: trainer.lr, samplesPerSecond: round(windowSamples / Math.max(seconds, 1e-9), 1) });
      trainer.lossWindow = [];
      windowStart = Date.now();
      windowSamples = 0;
      lastLoss = mean;
    }
    progress.update(step, { loss: lastLoss ?? NaN, lr: trainer.lr });
    if ((config.train.validateEvery > 0 && step % config.train.validateEvery === 0) || step === steps) {
      lastValidation = trainer.validate();
      if (lastValidation !== null) appendMetrics(runDir, { step, validationLoss: round(lastValidation) });
    }
    const stopHere = options.stopAfterStep === step && step < steps;
    if ((config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) || step === steps || stopHere) await trainer.checkpoint();
    if (stopHere) {
      stopped = true;
      break;
    }
  }
  progress.stop();

  if (!stopped) {
    await model.save(runDir);
    const metrics = readMetrics(runDir);
    const summary = {
      name: config.name,
      variant: config.train.variant,
      steps,
      finalLoss: lastLoss,
      validationLoss: lastValidation,
      seconds: (Date.now() - started) / 1000,
      trainRecords: trainCount,
      validationRecords: trainer.validation.length,
      memory: { rows: memory.memory.rows, clusters: memory.centroids.rows },
      mapperParameters: model.mapper.parameterCount,
      loraParameters: model.loraParameterCount,
    };
    writeJson(join(runDir, RUN_FILES.summary), summary);
    if (options.pictures ?? true) {
      await writeLossCurve(join(runDir, RUN_FILES.lossPlot), metrics, `MATS training (${config.name})`);
      const pairs = figurePairs(data, config.seed);
      if (pairs.length >= 10) {
        const stats = await writeFigure3(join(runDir, RUN_FILES.figure3), clap, memory, pairs, config);
        writeJson(join(runDir, 'figure3.json'), stats);
      } else {
        log('figure 3 skipped: the training records carry no audio paths to pair with their texts');
      }
    }
    pointLatest(runDir);
    log(`run folder: ${runDir} (runs/latest points here); trained ${steps} steps in ${formatDuration(summary.seconds)}, final loss ${lastLoss?.toFixed(4)}, validation loss ${lastValidation?.toFixed(4) ?? 'n/a'}`);
  }
  model.mapper.dispose();
  await clap.dispose();
  return { runDir, step: trainer.step, stopped, finalLoss: lastLoss, validationLoss: lastValidation, seconds: (Date.now() - started) / 1000 };
}

function round(v: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function prepareRunDir(runDir: string, config: MatsConfig, options: TrainOptions): void {
  const configFile = join(runDir, RUN_FILES.config);
  if (existsSync(runDir) && readdirSync(runDir).length > 0) {
    if (options.overwrite) {
      rmSync(runDir, { recursive: true, force: true });
    } else if (options.resume) {
      if (existsSync(configFile)) {
        const stored = readJson<{ config: MatsConfig }>(configFile, 'run config');
        const diff = firstDifference(resumeKey(stored.config), resumeKey(config));
        if (diff) throw new Error(`--resume: ${configFile} has a different ${diff} than the current config; a resumed run must use the same settings (only train.steps and the logging/checkpoint intervals may change)`);
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

/** Up to 350 (text, clip) pairs from the training records that carry a clip (paper Figure 3). */
function figurePairs(data: TrainingData, seed: number): { text: string; audio: string }[] {
  const byClip = new Map<string, string>();
  for (const r of data.train.flat()) if (r.audio && !byClip.has(r.audio)) byClip.set(r.audio, r.text);
  const clips = [...byClip.keys()];
  new Rng(`${seed}/figure3`).shuffle(clips);
  return clips.slice(0, 350).map((audio) => ({ audio, text: byClip.get(audio)! }));
}

