import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  type Embeddings,
  Rng,
  type RngState,
  createProgress,
  formatDuration,
  l2NormalizeInPlace,
  readSafetensors,
  selectBackend,
  selectRows,
  writeSafetensors,
  getFloatTensor,
} from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { decodeAudioFile } from '@mats/datasets';
import { AdamW, type CausalLM, type LoraAdapter, applyLora, buildPrefixLmBatch, learningRateAt, loadLora, prefixLmLoss, saveLora, trainStep } from '@mats/llm-lora';
import { createMapper, loadMapper, type TransformerMapper } from '@mats/mapper';
import { buildMemory, injectNoise, loadMemory, saveMemory, type SantaMemory } from '@mats/santa';
import {
  type CacheSpec,
  type MatsConfig,
  RUN_FILES,
  appendMetrics,
  cacheLayout,
  shardParts,
  clapFingerprint,
  embedParts,
  ensureWorld,
  latestCheckpoint,
  loadClap,
  loadLlm,
  mergeParts,
  pointLatest,
  readJson,
  readMerged,
  readMetrics,
  resolvePath,
  truncateMetrics,
  writeCheckpoint,
  writeJson,
  writeLossCurve,
  writeFigure3,
  runVersions,
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

  const variant = config.train.variant;
  const data = await loadTrainingData(config, variant === 'audio');
  const trainCount = data.train.reduce((n, s) => n + s.length, 0);
  log(`data: ${trainCount} training records from ${data.files.length} source(s), ${data.validation.length} held out for validation`);

  const clap = options.components?.clap ?? (await loadClap(config));
  const allRecords = [...data.train.flat(), ...data.validation];
  const texts = uniqueIndex(allRecords.map((r) => r.text));
  const textCache: CacheSpec = { dir: resolvePath(config.cache.dir), modelKey: clapFingerprint(config), kind: 'text', items: texts.unique, partSize: config.cache.partSize };
  const clips = variant === 'audio' ? uniqueIndex(allRecords.map((r) => r.audio!)) : null;
  const audioCache: CacheSpec | null = clips ? { ...textCache, kind: 'audio', items: clips.unique } : null;
  const embedTexts = (items: string[]) => clap.embedText(items);
  const embedClips = async (items: string[]) => clap.embedAudio(await Promise.all(items.map((p) => decodeAudioFile(p))));

  const caches: [CacheSpec, (items: string[]) => Promise<Embeddings>][] = [[textCache, embedTexts]];
  if (audioCache) caches.push([audioCache, embedClips]);
  const embeddings: Embeddings[] = [];
  for (const [spec, embed] of caches) {
    if (stage !== 'merge' && !readMergedSafe(spec)) {
      const layout = cacheLayout(spec);
      const mine = options.shard ? shardParts(layout.parts, options.shard.index, options.shard.count).length : layout.parts;
      const progress = createProgress({ label: `embed ${spec.kind} (${spec.items.length} items)`, total: mine, unit: 'parts', mode: options.progress });
      const result = await embedParts(spec, embed, { shard: options.shard, onPart: (done) => progress.update(done) });
      progress.stop();
      log(`embedding cache (${spec.kind}, ${spec.items.length} items): ${result.embedded} part(s) embedded, ${result.skipped} already there, in ${result.layout.folder}`);
    }
    if (stage === 'embed') continue;
    embeddings.push(readMergedSafe(spec) ?? mergeParts(spec));
  }
  if (stage !== 'all') {
    await clap.dispose();
    return { runDir, step: 0, stopped: false, finalLoss: null, validationLoss: null, seconds: (Date.now() - started) / 1000 };
  }
  const textEmbeddings = embeddings[0];
  const inputEmbeddings = variant === 'audio' ? embeddings[1] : textEmbeddings;
  const inputRow = variant === 'audio' ? (r: TrainRecord) => clips!.rowOf.get(r.audio!)! : (r: TrainRecord) => texts.rowOf.get(r.text)!;

  // Santa's memory: noisy embeddings of (at most M of) the distinct training texts, clustered.
  const memoryFile = join(runDir, RUN_FILES.santa);
  let memory: SantaMemory;
  if (options.resume && existsSync(memoryFile)) {
    memory = loadMemory(memoryFile);
  } else {
    const trainTexts = uniqueIndex(data.train.flat().map((r) => r.text)).unique;
    const rows = trainTexts.map((t) => texts.rowOf.get(t)!);
    const m = Math.min(config.santa.memorySize, rows.length);
    if (config.santa.k > m) throw new Error(`santa.k: ${config.santa.k} clusters but the memory has only ${m} texts (santa.memorySize ${config.santa.memorySize}, ${rows.length} distinct training texts)`);
    const t0 = Date.now();
    memory = buildMemory(selectRows(textEmbeddings, rows), {
      k: config.santa.k,
      variance: config.train.noiseVariance,
      iterations: config.santa.iterations,
      seed: config.seed,
      maxSize: config.santa.memorySize,
    });
    saveMemory(memoryFile, memory);
    log(`santa memory: ${memory.memory.rows} texts in ${memory.centroids.rows} clusters (${((Date.now() - t0) / 1000).toFixed(1)} s) -> ${memoryFile}`);
  }

  // Models: the frozen LLM with a LoRA adapter, and the mapper.
  const llm = options.components?.llm ?? loadLlm(config);
  const tokenizer = llm.tokenizer;
  if (!tokenizer) throw new Error(`llm.dir: ${config.llm.dir} has no tokenizer`);
  const llmDim = llm.config.nEmbd;
  const width = config.mapper.width ?? llmDim;
  if (!config.mapper.projection && width !== llmDim) {
    throw new Error(`mapper.width: ${width} differs from the LLM's n_embd ${llmDim}; set mapper.projection: true or mapper.width: null`);
  }
  const checkpoint = options.resume ? latestCheckpoint(runDir) : null;
  let mapper: TransformerMapper;
  let adapter: LoraAdapter;
  if (checkpoint) {
    mapper = loadMapper(join(checkpoint.dir, RUN_FILES.mapper));
    adapter = loadLora(llm, checkpoint.dir);
  } else {
    mapper = createMapper(
      {
        clapDim: clap.dim,
        width,
        llmDim: config.mapper.projection ? llmDim : undefined,
        projection: config.mapper.projection,
        prefixLength: config.mapper.prefixLength,
        clipLength: config.mapper.clipLength,
        layers: config.mapper.layers,
        heads: config.mapper.heads,
        mlpRatio: config.mapper.mlpRatio,
      },
      new Rng(`${config.seed}/mapper`),
    );
    adapter = applyLora(llm, { r: config.lora.rank, alpha: config.lora.alpha, dropout: config.lora.dropout, targetModules: config.lora.targets }, new Rng(`${config.seed}/lora`));
  }
  const trainable = [...mapper.trainableVariables, ...adapter.variables()];
  const optimizer = new AdamW(trainable, { weightDecay: config.train.weightDecay });
  const sampler = new MixedSampler(
    data.train.map((s) => s.length),
    data.weights,
    config.seed,
  );
  const noiseRng = new Rng(`${config.seed}/noise`);
  const dropoutRng = new Rng(`${config.seed}/dropout`);
  let step = 0;
  let lossWindow: number[] = [];
  if (checkpoint) {
    const state = readJson<CheckpointState>(join(checkpoint.dir, 'state.json'), 'checkpoint state');
    optimizer.setState(readOptimizer(join(checkpoint.dir, 'optimizer.safetensors'), trainable.length));
    sampler.setState(state.sampler);
    noiseRng.setState(state.rng.noise);
    dropoutRng.setState(state.rng.dropout);
    step = state.step;
    lossWindow = state.lossWindow;
    truncateMetrics(runDir, step);
    log(`resuming ${runDir} from step ${step} (${checkpoint.dir})`);
  } else if (options.resume) {
    log(`--resume: ${runDir} has no checkpoint yet; starting at step 0`);
  }
  if (!checkpoint) rmSync(join(runDir, RUN_FILES.metrics), { force: true });

  const encodeExample = (r: TrainRecord) => {
    const instruction = tokenizer.encode(r.instruction);
    let answer = tokenizer.encode(` ${r.answer}`);
    const room = config.train.maxTextTokens - 1 - instruction.length;
    if (room < 1) throw new Error(`train.maxTextTokens: ${config.train.maxTextTokens} leaves no room for the answer of record "${r.id}" (instruction has ${instruction.length} tokens)`);
    if (answer.length > room) answer = answer.slice(0, room);
    return { instruction, answer };
  };
  const batchInput = (records: TrainRecord[], rng: Rng | null): Embeddings => {
    const x = selectRows(inputEmbeddings, records.map(inputRow));
    if (variant === 'audio' || config.train.noiseVariance === 0 || !rng) return l2NormalizeInPlace(x);
    return injectNoise(x, { variance: config.train.noiseVariance, rng });
  };
  const lossOf = (records: TrainRecord[], x: Embeddings, training: boolean): number | tf.Scalar => {
    const batch = buildPrefixLmBatch(records.map(encodeExample), config.mapper.prefixLength, tokenizer.eosId, tokenizer.padId);
    const xT = tf.tensor2d(x.data, [x.rows, x.dim]);
    try {
      if (!training) {
        const value = tf.tidy(() => prefixLmLoss(llm, mapper.apply(xT), batch, { training: false }));
        const v = value.dataSync()[0];
        value.dispose();
        return v;
      }
      return trainStep(() => prefixLmLoss(llm, mapper.apply(xT), batch, { training: true, rng: dropoutRng }), optimizer, {
        lr: currentLr,
        maxGradNorm: config.train.gradClip > 0 ? config.train.gradClip : undefined,
      }).loss;
    } finally {
      xT.dispose();
    }
  };
  const validation = data.validation.slice(0, config.data.validationMax);
  const validate = (): number | null => {
    if (validation.length === 0) return null;
    // Fixed noise for every validation, so the numbers are comparable along the run.
    const rng = new Rng(`${config.seed}/validation-noise`);
    let total = 0;
    let count = 0;
    for (let i = 0; i < validation.length; i += config.train.batchSize) {
      const records = validation.slice(i, i + config.train.batchSize);
      total += (lossOf(records, batchInput(records, rng), false) as number) * records.length;
      count += records.length;
    }
    return total / count;
  };

  const steps = config.train.steps;
  const schedule = { peakLr: config.train.lr, warmupSteps: config.train.warmupSteps, totalSteps: steps, decay: config.train.schedule === 'cosine' ? ('cosine' as const) : ('linear' as const) };
  let currentLr = 0;
  let lastLoss: number | null = null;
  let lastValidation: number | null = null;
  const progress = createProgress({ label: `train ${config.name}`, total: steps, unit: 'steps', mode: options.progress });
  progress.update(step);
  let windowStart = Date.now();
  let windowSamples = 0;
  let stopped = false;
  const saveCheckpoint = () =>
    writeCheckpoint(
      runDir,
      step,
      async (dir) => {
        mapper.save(join(dir, RUN_FILES.mapper));
        await saveLora(adapter, dir);
        await writeOptimizer(join(dir, 'optimizer.safetensors'), optimizer);
        const state: CheckpointState = { step, rng: { noise: noiseRng.getState(), dropout: dropoutRng.getState() }, sampler: sampler.getState(), lossWindow };
        writeJson(join(dir, 'state.json'), state);
      },
      config.train.keepCheckpoints,
    );

  while (step < steps) {
    const draws = sampler.next(config.train.batchSize);
    const records = draws.map((d) => data.train[d.source][d.index]);
    currentLr = config.train.schedule === 'constant' ? (step < config.train.warmupSteps ? (config.train.lr * step) / config.train.warmupSteps : config.train.lr) : learningRateAt(step, schedule);
    const loss = lossOf(records, batchInput(records, noiseRng), true) as number;
    if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at step ${step + 1} (lower train.lr?)`);
    step++;
    lossWindow.push(loss);
    windowSamples += records.length;
    lastLoss = loss;
    if (step % config.train.logEvery === 0 || step === steps) {
      const seconds = (Date.now() - windowStart) / 1000;
      const mean = lossWindow.reduce((a, b) => a + b, 0) / lossWindow.length;
      appendMetrics(runDir, { step, loss: round(mean), lr: currentLr, samplesPerSecond: round(windowSamples / Math.max(seconds, 1e-9), 1) });
      lossWindow = [];
      windowStart = Date.now();
      windowSamples = 0;
      lastLoss = mean;
    }
    progress.update(step, { loss: lastLoss ?? NaN, lr: currentLr });
    if ((config.train.validateEvery > 0 && step % config.train.validateEvery === 0) || step === steps) {
      lastValidation = validate();
      if (lastValidation !== null) appendMetrics(runDir, { step, validationLoss: round(lastValidation) });
    }
    const stopHere = options.stopAfterStep === step && step < steps;
    if ((config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) || step === steps || stopHere) await saveCheckpoint();
    if (stopHere) {
      stopped = true;
      break;
    }
  }
  progress.stop();

  if (!stopped) {
    mapper.save(join(runDir, RUN_FILES.mapper));
    await saveLora(adapter, runDir);
    const metrics = readMetrics(runDir);
    const summary = {
      name: config.name,
      variant,
      steps,
      finalLoss: lastLoss,
      validationLoss: lastValidation,
      seconds: (Date.now() - started) / 1000,
      trainRecords: trainCount,
      validationRecords: validation.length,
      memory: { rows: memory.memory.rows, clusters: memory.centroids.rows },
      mapperParameters: mapper.parameterCount,
      loraParameters: adapter.parameterCount,
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
  mapper.dispose();
  optimizer.dispose();
  await clap.dispose();
  return { runDir, step, stopped, finalLoss: lastLoss, validationLoss: lastValidation, seconds: (Date.now() - started) / 1000 };
}

function round(v: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function readMergedSafe(spec: CacheSpec): Embeddings | null {
  return readMerged(spec);
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
  writeJson(configFile, { config, versions: runVersions(), createdAt: new Date().toISOString() });
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

