/**
 * Training-step time (mapper + LoRA on a frozen GPT-2) and greedy generation speed, for the tiny
 * world shape, the GPT-2-small shape with a stand-in prefix, and the paper-size MATS-GPT2 step
 * (GPT-2 small + the 8-layer width-768 mapper with its projection, prefix 40, LoRA r8 on c_attn,
 * batch 8 as micro-batches), all with random weights. Run:
 *   npx tsx packages/llm-lora/bench/llm-lora.bench.ts [--only world|gpt2-small|gpt2-small-mapper] [--reps N] [--warmup N]
 * Without --only, BENCH_SHAPES (comma-separated shape names) picks the shapes; the PyTorch reference
 * reads the same variable, so the paper-size step and its reference alone, paired, are:
 *   BENCH_SHAPES=gpt2-small-mapper BENCH_THREADS=1,2 npx tsx benchmarks/src/perf.ts --only llm-lora.bench,bench_train_step_reference
 * Prints one human line and one JSON line per measurement (value = median); params.peakHeapMiB is
 * the wasm heap after the timed steps (it only grows, so it is the peak). Without --only each
 * shape runs in its own process, so each peak is its own.
 * The PyTorch reference with the same shapes is tools/bench_train_step_reference.py.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Rng, selectBackend } from '@mats/core';
import { AdamW, applyLora, buildPrefixLmBatch, createCausalLM, generate, makeConfig, prefixLmLoss, readScalar, trainStep, type Gpt2Config } from '../src/index.js';

/**
 * The `world` preset's rows: (instruction, answer) token counts shaped like the world's four tasks
 * (classification, caption, AQA, MMAU-format; their mean lengths), twice: batch 8 of right-padded
 * rows. The same rows as tools/bench_train_step_reference.py's world-preset shape.
 */
const WORLD_PRESET_ROWS: [number, number][] = [[7, 3], [4, 15], [6, 2], [26, 2], [7, 3], [4, 15], [6, 2], [26, 2]];

interface BenchShape {
  name: 'world' | 'world-preset' | 'gpt2-small' | 'gpt2-small-mapper';
  /** Benchmark name suffix (default: name); rows of one benchmark differ by params.prefixSource. */
  benchmark?: string;
  /** Time generation too (default true). */
  generation?: boolean;
  llm: Gpt2Config;
  mapper: { clapDim: number; width: number; prefixLength: number; clipLength: number; layers: number; heads: number; mlpRatio: number; projection?: boolean; llmDim?: number };
  batch: number;
  /**
   * Rows per micro-batch (gradient accumulation, same step as the full batch). GPT-2 small with
   * batch 8 does not fit the 4 GB wasm heap in one pass (weights and XNNPACK's packed copies take
   * ~1.5 GB); two micro-batches of 4 do.
   */
  microBatchRows: number;
  /**
   * 'mapper': @mats/mapper's TransformerMapper produces the prefix (the MATS step). 'stand-in': a
   * trainable [batch, 40, C] tensor instead (the gpt2-small row kept for comparison with the
   * PyTorch stand-in reference; gpt2-small-mapper is the real paper-size step).
   */
  prefixSource: 'mapper' | 'stand-in';
  instructionTokens: number;
  answerTokens: number;
  /** Per row (instruction, answer) token counts instead of instructionTokens / answerTokens for every row. */
  rows?: [number, number][];
}

const SHAPES: BenchShape[] = [
  {
    name: 'world',
    llm: makeConfig({ vocabSize: 512, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 }),
    mapper: { clapDim: 512, width: 128, prefixLength: 40, clipLength: 40, layers: 4, heads: 8, mlpRatio: 2 },
    batch: 8,
    microBatchRows: 8,
    prefixSource: 'mapper',
    instructionTokens: 8,
    answerTokens: 23,
  },
  {
    // The trainer's `world` preset step exactly (apps/shared presets: the tiny world GPT-2's shape,
    // 2-layer mapper with prefix 8, LoRA r8 on c_attn with dropout 0.1, batch 8, clipping 1).
    name: 'world-preset',
    generation: false,
    llm: makeConfig({ vocabSize: 226, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4, eosTokenId: 0 }),
    mapper: { clapDim: 256, width: 128, prefixLength: 8, clipLength: 8, layers: 2, heads: 8, mlpRatio: 2 },
    batch: 8,
    microBatchRows: 8,
    prefixSource: 'mapper',
    instructionTokens: 0,
    answerTokens: 0,
    rows: WORLD_PRESET_ROWS,
  },
  {
    name: 'gpt2-small',
    llm: makeConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 }),
    mapper: { clapDim: 1024, width: 768, prefixLength: 40, clipLength: 40, layers: 8, heads: 8, mlpRatio: 2 },
    batch: 8,
    microBatchRows: 4,
    prefixSource: 'stand-in',
    instructionTokens: 8,
    answerTokens: 23,
  },
  {
    name: 'gpt2-small-mapper',
    benchmark: 'gpt2-small',
    generation: false,
    llm: makeConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 }),
    mapper: { clapDim: 1024, width: 768, prefixLength: 40, clipLength: 40, layers: 8, heads: 8, mlpRatio: 2, projection: true, llmDim: 768 },
    batch: 8,
    microBatchRows: 2,
    prefixSource: 'mapper',
    instructionTokens: 8,
    answerTokens: 23,
  },
];

interface PrefixSource {
  kind: string;
  variables: tf.Variable[];
  /** Prefix [batch, P, C] for the batch's CLAP embeddings (inside the loss closure). */
  forward(clap: tf.Tensor2D): tf.Tensor3D;
}

/** @mats/mapper when it is built and has a training forward; otherwise a trainable stand-in prefix. */
async function makePrefixSource(shape: BenchShape, rng: Rng): Promise<PrefixSource> {
  if (shape.prefixSource === 'mapper') try {
    const mod: any = await import('@mats/mapper');
    const mapper = mod.createMapper({ ...shape.mapper }, rng);
    return { kind: 'mapper', variables: mapper.trainableVariables, forward: (clap) => mapper.apply(clap) };
  } catch (err) {
    console.error(`@mats/mapper not usable (${(err as Error).message}); using a stand-in trainable prefix`);
  }
  const { prefixLength: P } = shape.mapper;
  const prefix = tf.variable(tf.randomNormal([shape.batch, P, shape.llm.nEmbd], 0, 0.02), true);
  return { kind: shape.prefixSource === 'mapper' ? 'stand-in trainable prefix (mapper not available)' : 'stand-in trainable prefix (mapper + GPT-2 small exceed the 4 GB wasm heap)', variables: [prefix], forward: (clap) => tf.slice(prefix, [0, 0, 0], [clap.shape[0], -1, -1]) as tf.Tensor3D };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function report(benchmark: string, samples: number[], unit: string, higherIsBetter: boolean, params: Record<string, unknown>): void {
  const value = median(samples);
  console.log(`${benchmark}: ${value.toFixed(unit === 'ms' ? 1 : 2)} ${unit} (median of ${samples.length})`);
  console.log(JSON.stringify({ benchmark, value, unit, higherIsBetter, samples, params }));
}

const heapMiB = () => {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return wasm ? Math.round(wasm.HEAPU8.length / 2 ** 20) : NaN;
};

async function benchShape(shape: BenchShape, reps: number, warmup: number, backend: string): Promise<void> {
  const rng = new Rng(0);
  const model = createCausalLM(shape.llm, rng);
  const lora = applyLora(model, { r: 8, alpha: 32, dropout: 0.1, targetModules: ['c_attn'] }, rng);
  const source = await makePrefixSource(shape, rng);
  const B = shape.batch;
  const clapData = new Float32Array(B * shape.mapper.clapDim);
  rng.fillNormal(clapData);
  const clap = tf.tidy(() => {
    const x = tf.tensor2d(clapData, [B, shape.mapper.clapDim]);
    return tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D;
  });
  const V = shape.llm.vocabSize;
  const lengths = shape.rows ?? Array.from({ length: B }, () => [shape.instructionTokens, shape.answerTokens]);
  const examples = lengths.map(([i, a]) => ({
    instruction: Array.from({ length: i }, () => 1 + rng.int(V - 1)),
    answer: Array.from({ length: a }, () => 1 + rng.int(V - 1)),
  }));
  const P = shape.mapper.prefixLength;
  const denominator = buildPrefixLmBatch(examples, P, shape.llm.eosTokenId).lossTokens;
  const micro = Number(process.env.MICRO_BATCH_ROWS ?? shape.microBatchRows);
  const parts = Array.from({ length: Math.ceil(B / micro) }, (_, i) => ({
    start: i * micro,
    rows: Math.min(micro, B - i * micro),
    batch: buildPrefixLmBatch(examples.slice(i * micro, (i + 1) * micro), P, shape.llm.eosTokenId),
  }));
  const opt = new AdamW([...source.variables, ...lora.variables()], { weightDecay: 0.01 });
  const lossFns = parts.map((part) => () =>
    prefixLmLoss(model, source.forward(tf.slice(clap, [part.start, 0], [part.rows, -1])), part.batch, { training: true, rng, denominator }),
  );
  // One step and its loss (read after the step, as the trainer reads it at its log steps).
  const step = async () => {
    const r = await trainStep(lossFns, opt, { lr: 1e-4, maxGradNorm: 1 });
    r.gradNorm?.dispose();
    return readScalar(r.loss);
  };
  const params = {
    backend,
    prefixSource: source.kind,
    llm: shape.llm,
    mapper: shape.mapper,
    lora: { r: 8, alpha: 32, dropout: 0.1, targetModules: ['c_attn'] },
    batch: B,
    microBatchRows: micro,
    prefixTokens: shape.mapper.prefixLength,
    textTokens: Math.max(...lengths.map(([i, a]) => i + a + 1)),
    ...(shape.rows ? { rows: shape.rows } : {}),
  };
  const losses: number[] = [];
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    losses.push(await step());
    console.error(`warm-up step ${i + 1}: ${(performance.now() - t0).toFixed(0)} ms, wasm heap ${heapMiB()} MiB`);
  }
  const samples: number[] = [];
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    losses.push(await step());
    samples.push(performance.now() - t0);
  }
  if (tf.memory().numTensors !== tensorsBefore) console.error(`warning: ${tf.memory().numTensors - tensorsBefore} tensors leaked over ${reps} steps`);
  console.error(`losses: ${losses.map((l) => l.toFixed(4)).join(' ')}`);
  const msPerStep = median(samples);
  report(`llm-lora/train-step-${shape.benchmark ?? shape.name}`, samples, 'ms', false, { ...params, peakHeapMiB: heapMiB(), msPerStep: Number(msPerStep.toFixed(2)), samplesPerSecond: Number(((1000 * B) / msPerStep).toFixed(1)) });
  if (shape.generation === false) {
    opt.dispose();
    tf.dispose([clap, ...source.variables]);
    lora.dispose();
    model.dispose();
    return;
  }

  // Generation: prefix 40 + 8 prompt tokens, 32 new tokens, greedy with the KV cache, no eos stop.
  const prefixData = new Float32Array(P * shape.llm.nEmbd);
  rng.fillNormal(prefixData, 0, 0.02);
  const newTokens = 32;
  const gen = () => generate(model, { prefix: { data: prefixData, shape: [P, shape.llm.nEmbd] }, promptIds: examples[0].instruction }, { maxNewTokens: newTokens, eosId: -1 });
  await gen();
  const rates: number[] = [];
  for (let i = 0; i < Math.max(3, reps); i++) {
    const t0 = performance.now();
    const out = await gen();
    rates.push(out.ids.length / ((performance.now() - t0) / 1000));
  }
  report(`llm-lora/generate-greedy-${shape.name}`, rates, 'tokens/s', true, { backend, llm: shape.llm, prefixTokens: P, promptTokens: shape.instructionTokens, newTokens, lora: 'unmerged' });
  opt.dispose();
  tf.dispose([clap, ...source.variables]);
  lora.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 5;
  const warmup = args.includes('--warmup') ? Number(args[args.indexOf('--warmup') + 1]) : 2;
  if (!only) {
    // One process per shape: the wasm heap never shrinks, so a shared process would report the
    // largest shape's peak for every later one.
    const names = process.env.BENCH_SHAPES?.split(',').filter(Boolean) ?? SHAPES.map((s) => s.name);
    for (const name of names) if (!SHAPES.some((s) => s.name === name)) throw new Error(`BENCH_SHAPES: unknown shape "${name}", expected some of ${SHAPES.map((s) => s.name).join(', ')}`);
    for (const shape of SHAPES.filter((s) => names.includes(s.name))) {
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--only', shape.name, '--reps', String(reps), '--warmup', String(warmup)], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`llm-lora bench: shape ${shape.name} exited with ${r.status ?? r.signal}`);
    }
    return;
  }
  const shape = SHAPES.find((s) => s.name === only);
  if (!shape) throw new Error(`--only ${only}: expected one of ${SHAPES.map((s) => s.name).join(', ')}`);
  const info = await selectBackend((process.env.MATS_BACKEND as 'wasm') ?? 'wasm');
  await benchShape(shape, reps, warmup, info.selected);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
