#!/usr/bin/env node
/**
 * The MATS training step and greedy generation timed on a tfjs backend (made for webgpu), with the
 * shapes of packages/llm-lora/bench/llm-lora.bench.ts and tools/bench_train_step_reference.py:
 * CLAP embedding -> TransformerMapper (+ output projection) -> 40 prefix vectors, then 32 text tokens
 * (8 instruction + 23 answer + eos, random ids) through a frozen GPT-2 with random weights and LoRA
 * r 8 on c_attn (alpha 32, dropout 0.1), cross-entropy on answer + eos, backward to mapper + LoRA,
 * global-norm clipping at 1 and Adam (lr 1e-4) on the device.
 *
 * Why not @mats/llm-lora's trainStep / AdamW and prefixLmLoss: they read tensors synchronously
 * (dataSync), which tfjs-webgpu cannot do in Node. This step keeps everything on the device and
 * reads only the loss, asynchronously, once per step (which also waits for the GPU: honest timing).
 *
 *   node tools/gpu/train-step.mjs [--model tiny|world|gpt2-small] [--batches 8,32,128] [--reps 3]
 *        [--backend webgpu] [--no-generate] [--name-prefix webgpu/]
 *   env MATS_GPU_MODEL=tiny|world|gpt2-small (same as --model)
 *
 * Prints one human line on stderr and one JSON line on stdout per figure (benchmark format).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, assertFitsWebGpu, describeBackend, releaseWebGpu, selectBackend } from '@mats/core';
import { applyLora, buildPrefixLmBatch, createCausalLM, generate, makeConfig, weightedCrossEntropy } from '@mats/llm-lora';
import { createMapper } from '@mats/mapper';

export const SHAPES = {
  // For a dry run on lavapipe (a CPU): small enough to run batch 8/32/128 in a minute or two.
  tiny: {
    llm: { vocabSize: 128, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4 },
    mapper: { clapDim: 64, width: 64, prefixLength: 40, clipLength: 40, layers: 2, heads: 4, mlpRatio: 2 },
  },
  world: {
    llm: { vocabSize: 512, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 },
    mapper: { clapDim: 512, width: 128, prefixLength: 40, clipLength: 40, layers: 4, heads: 8, mlpRatio: 2 },
  },
  // Paper section 4.1: GPT-2 small, 8-layer mapper width 768, prefix 40, with the output projection.
  'gpt2-small': {
    llm: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 },
    mapper: { clapDim: 1024, width: 768, prefixLength: 40, clipLength: 40, layers: 8, heads: 8, mlpRatio: 2 },
  },
};
const INSTRUCTION = 8;
const ANSWER = 23;
const LORA = { r: 8, alpha: 32, dropout: 0.1, targetModules: ['c_attn'] };
/** Rows of [rows, vocab] logits computed at once in the loss (bounds the largest buffer). */
const HEAD_CHUNK_ROWS = 1024;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function report(benchmark, samples, unit, higherIsBetter, params) {
  const value = median(samples);
  process.stderr.write(`${benchmark}: ${value.toFixed(unit === 'ms' ? 1 : 2)} ${unit} (median of ${samples.length})\n`);
  process.stdout.write(`${JSON.stringify({ benchmark, value, unit, higherIsBetter, samples, params })}\n`);
}

/** Global-norm clipping on the device (no readback): g * min(1, maxNorm / norm). */
function clipOnDevice(grads, maxNorm) {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)));
    return grads.map((g) => tf.mul(g, scale));
  });
}

/**
 * Builds the model once and times the step at each batch size, then greedy generation. Figure names
 * are `webgpu/train-step-<model>-b<batch>` and `webgpu/generate-greedy-<model>` unless `name(what,
 * model, batch)` says otherwise (batch 0 for generation).
 * Returns nothing; prints the figures. Throws a clear error when a tensor exceeds the adapter's
 * storage-binding limit (lavapipe: 128 MiB, so only the world shape fits there).
 */
export async function runTrainStepBench({ model = 'world', batches = [8], reps = 3, warmup = 2, generation = true, namePrefix = 'webgpu/', name, backendInfo }) {
  const nameOf = name ?? ((what, shapeName, batch) => `${namePrefix}${what}-${shapeName}${batch ? `-b${batch}` : ''}`);
  const shape = SHAPES[model];
  if (!shape) throw new Error(`train-step: unknown model ${JSON.stringify(model)}, expected one of ${Object.keys(SHAPES).join(', ')}`);
  const llm = makeConfig(shape.llm);
  const m = shape.mapper;
  const V = llm.vocabSize;
  const C = llm.nEmbd;
  const P = m.prefixLength;
  const maxBatch = Math.max(...batches);
  assertFitsWebGpu('transformer.wte.weight', [V, C]);
  assertFitsWebGpu('mapper input linear', [m.clapDim, m.clipLength * m.width]);
  assertFitsWebGpu(`head logits chunk (${HEAD_CHUNK_ROWS} rows)`, [Math.min(HEAD_CHUNK_ROWS, maxBatch * (INSTRUCTION + ANSWER + 1)), V]);

  const rng = new Rng(0);
  const t0 = performance.now();
  const lm = createCausalLM(llm, rng);
  const lora = applyLora(lm, LORA, rng);
  const mapper = createMapper({ ...m, llmDim: C, projection: true }, rng);
  process.stderr.write(`built ${model}: GPT-2 ${llm.nLayer} layers width ${C}, mapper ${m.layers} layers, in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const trainable = [...mapper.trainableVariables, ...lora.variables()];
  const optimizer = tf.train.adam(1e-4);
  const backend = backendInfo ? describeBackend(backendInfo) : tf.getBackend();

  for (const B of batches) {
    const clapData = new Float32Array(B * m.clapDim);
    rng.fillNormal(clapData);
    const clap = tf.tidy(() => {
      const x = tf.tensor2d(clapData, [B, m.clapDim]);
      return tf.div(x, tf.norm(x, 'euclidean', 1, true));
    });
    const examples = Array.from({ length: B }, () => ({
      instruction: Array.from({ length: INSTRUCTION }, () => rng.int(V - 1)),
      answer: Array.from({ length: ANSWER }, () => rng.int(V - 1)),
    }));
    const batch = buildPrefixLmBatch(examples, P, llm.eosTokenId);
    const L = batch.textIds[0].length;
    const lossFn = () => {
      const prefix = mapper.apply(clap);
      const inputs = tf.concat([prefix, lm.embedTokens(batch.textIds)], 1);
      const { hidden } = lm.forward(inputs, { training: true, rng });
      const rows = tf.reshape(tf.slice(hidden, [0, P - 1, 0], [B, L, C]), [-1, C]);
      const N = B * L;
      const parts = [];
      for (let s = 0; s < N; s += HEAD_CHUNK_ROWS) {
        const n = Math.min(HEAD_CHUNK_ROWS, N - s);
        const logits = lm.lmHead(tf.slice(rows, [s, 0], [n, C]));
        parts.push(weightedCrossEntropy(logits, batch.targets.subarray(s, s + n), batch.lossWeights.subarray(s, s + n), batch.lossTokens));
      }
      return parts.length === 1 ? parts[0] : tf.addN(parts);
    };
    const step = async () => {
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(lossFn, trainable);
        const clipped = clipOnDevice(trainable.map((v) => grads[v.name]), 1);
        optimizer.applyGradients(Object.fromEntries(trainable.map((v, i) => [v.name, clipped[i]])));
        return value;
      });
      const value = (await loss.data())[0];
      loss.dispose();
      return value;
    };
    const losses = [];
    for (let i = 0; i < warmup; i++) {
      const t = performance.now();
      losses.push(await step());
      process.stderr.write(`  batch ${B} warm-up step ${i + 1}: ${(performance.now() - t).toFixed(0)} ms, loss ${losses.at(-1).toFixed(4)}\n`);
    }
    const samples = [];
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      losses.push(await step());
      samples.push(performance.now() - t);
    }
    if (!losses.every(Number.isFinite)) throw new Error(`train-step: non-finite loss at batch ${B}: ${losses.join(', ')}`);
    report(nameOf('train-step', model, B), samples, 'ms', false, {
      backend,
      model,
      prefixSource: 'mapper',
      batch: B,
      prefixTokens: P,
      textTokens: L,
      llm: shape.llm,
      mapper: { ...m, projection: true },
      lora: LORA,
      optimizer: 'tfjs Adam on device, global-norm clip 1',
      losses,
    });
    clap.dispose();
  }

  if (generation) {
    // Greedy, KV cache, batch 1: prefix 40 + 8 prompt tokens, 32 new tokens, no eos stop.
    const prefixData = new Float32Array(P * C);
    rng.fillNormal(prefixData, 0, 0.02);
    const prompt = Array.from({ length: INSTRUCTION }, () => rng.int(V - 1));
    const gen = () => generate(lm, { prefix: { data: prefixData, shape: [P, C] }, promptIds: prompt }, { maxNewTokens: 32, eosId: -1 });
    await gen();
    const rates = [];
    for (let i = 0; i < Math.max(3, reps); i++) {
      const t = performance.now();
      const out = await gen();
      rates.push(out.ids.length / ((performance.now() - t) / 1000));
    }
    report(nameOf('generate-greedy', model, 0), rates, 'tokens/s', true, { backend, model, prefixTokens: P, promptTokens: INSTRUCTION, newTokens: 32, lora: 'unmerged' });
  }
  optimizer.dispose();
  mapper.dispose();
  lm.dispose();
}

function arg(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

async function main() {
  const args = process.argv.slice(2);
  const info = await selectBackend(arg(args, '--backend', 'webgpu'));
  process.stderr.write(`backend: ${describeBackend(info)}\n`);
  try {
    await runTrainStepBench({
      model: arg(args, '--model', process.env.MATS_GPU_MODEL ?? 'world'),
      batches: arg(args, '--batches', '8').split(',').map(Number),
      reps: Number(arg(args, '--reps', '3')),
      warmup: Number(arg(args, '--warmup', '2')),
      generation: !args.includes('--no-generate'),
      namePrefix: arg(args, '--name-prefix', 'webgpu/'),
      backendInfo: info,
    });
  } finally {
    releaseWebGpu();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
