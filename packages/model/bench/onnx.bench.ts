/**
 * Greedy generation speed, tfjs-wasm against the exported decoder on onnxruntime-node (1 and 2
 * threads), batch 1 and 32, for the world shape and the GPT-2-small shape (random weights), in one
 * run. Each item is a 40-vector prefix + 8 prompt tokens, then `BENCH_NEW_TOKENS` (default 16) new
 * tokens without an eos stop; time covers prefill and every step. GPT-2 small at batch 32 is the
 * slow case (about a minute per tfjs repetition on a busy 2-core machine): it generates
 * `BENCH_LARGE_NEW_TOKENS` (default 8) tokens, `BENCH_LARGE_REPEATS` (default 1) times. Run:
 *   npx tsx packages/model/bench/onnx.bench.ts [--only world|gpt2-small] [--batches 1,32] [--reps N]
 * (or BENCH_REPEATS, default 3; BENCH_BATCHES; MATS_WASM_THREADS: tfjs-wasm's threads, default 1). Prints one human line and one JSON line per
 * measurement (value = median tokens/s; params hold items/s and, for ONNX rows, `vsTfjs` = ONNX
 * tokens/s / tfjs-wasm tokens/s of the same run).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, selectBackend } from '@mats/core';
import { createCausalLM, generate, makeConfig, type CausalLM, type Gpt2Config } from '@mats/llm-lora';
import { OrtDecoder, createSession, decoderShape, exportGpt2Decoder, hostWeights, loadOnnxRuntime } from '../src/index.js';

interface Shape {
  name: 'world' | 'gpt2-small';
  llm: Gpt2Config;
}

const SHAPES: Shape[] = [
  { name: 'world', llm: makeConfig({ vocabSize: 512, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 }) },
  { name: 'gpt2-small', llm: makeConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 }) },
];
const PREFIX = 40;
const PROMPT = 8;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function report(benchmark: string, samples: number[], params: Record<string, unknown>): number {
  const value = median(samples);
  console.log(`${benchmark} (batch ${params.batch}): ${value.toFixed(2)} tokens/s (median of ${samples.length})${params.vsTfjs ? `, ${Number(params.vsTfjs).toFixed(2)}x tfjs-wasm` : ''}`);
  console.log(JSON.stringify({ benchmark, value, unit: 'tokens/s', higherIsBetter: true, samples, params }));
  return value;
}

function argmaxRows(logits: Float32Array, rows: number, V: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    const base = r * V;
    for (let i = 1; i < V; i++) if (logits[base + i] > logits[base + best]) best = i;
    out.push(best);
  }
  return out;
}

/** tfjs greedy for equal-length rows: batched prefill and cached steps (batch 1 uses llm-lora's generate). */
async function tfjsGreedy(model: CausalLM, prefix: Float32Array, prompts: number[][], newTokens: number): Promise<number[][]> {
  const rows = prompts.length;
  const C = model.config.nEmbd;
  if (rows === 1) return [(await generate(model, { prefix: { data: prefix, shape: [PREFIX, C] }, promptIds: prompts[0] }, { maxNewTokens: newTokens, eosId: -1 })).ids];
  const V = model.config.vocabSize;
  const out: number[][] = prompts.map(() => []);
  let cache: import('@mats/llm-lora').KvCache | undefined;
  const run = (x: tf.Tensor3D) => {
    let next: import('@mats/llm-lora').KvCache | undefined;
    const logits = tf.tidy(() => {
      const res = model.forward(x, { cache, useCache: true });
      next = res.cache;
      const T = res.hidden.shape[1];
      return model.lmHead(tf.slice(res.hidden, [0, T - 1, 0], [rows, 1, C]));
    });
    if (cache) tf.dispose([...cache.keys, ...cache.values]);
    cache = next;
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  };
  const x0 = tf.tidy(() => tf.concat([tf.tensor3d(prefix, [rows, PREFIX, C]), model.embedTokens(prompts)], 1) as tf.Tensor3D);
  let logits = run(x0);
  x0.dispose();
  for (let i = 0; i < newTokens; i++) {
    const tokens = argmaxRows(logits, rows, V);
    tokens.forEach((t, r) => out[r].push(t));
    if (i === newTokens - 1) break;
    const emb = model.embedTokens(tokens.map((t) => [t]));
    logits = run(emb);
    emb.dispose();
  }
  if (cache) tf.dispose([...cache.keys, ...cache.values]);
  return out;
}

async function onnxGreedy(dec: OrtDecoder, prefix: Float32Array, prompts: number[][], newTokens: number): Promise<number[][]> {
  const rows = prompts.length;
  const out: number[][] = prompts.map(() => []);
  const parents = prompts.map((_, r) => r);
  let logits = await dec.start(prefix, prompts);
  for (let i = 0; i < newTokens; i++) {
    const tokens = argmaxRows(logits, rows, dec.vocabSize);
    tokens.forEach((t, r) => out[r].push(t));
    if (i === newTokens - 1) break;
    logits = await dec.step(tokens, parents);
  }
  dec.end();
  return out;
}

async function time<T>(f: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

/** Tokens and repetitions per measurement; the slow case (GPT-2 small, batch 32) has its own. */
interface Work {
  newTokens: number;
  reps: number;
  largeNewTokens: number;
  largeReps: number;
}

async function benchShape(shape: Shape, batches: number[], work: Work, backend: string): Promise<void> {
  const rng = new Rng(0);
  const model = createCausalLM(shape.llm, rng);
  const C = shape.llm.nEmbd;
  const V = shape.llm.vocabSize;
  const t0 = performance.now();
  const bytes = exportGpt2Decoder(shape.llm, await hostWeights(model));
  console.error(`${shape.name}: exported decoder, ${(bytes.length / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const ort = await loadOnnxRuntime();
  const decoders = new Map<number, OrtDecoder>();
  for (const threads of [1, 2]) decoders.set(threads, new OrtDecoder(ort, await createSession(ort, bytes, { threads }, `${shape.name} decoder`), decoderShape(shape.llm)));
  for (const batch of batches) {
    const prefix = rng.fillNormal(new Float32Array(batch * PREFIX * C), 0, 0.02) as Float32Array;
    const prompts = Array.from({ length: batch }, () => Array.from({ length: PROMPT }, () => rng.int(V - 1)));
    const large = shape.name === 'gpt2-small' && batch >= 32;
    const newTokens = large ? work.largeNewTokens : work.newTokens;
    const reps = large ? work.largeReps : work.reps;
    const params = { batch, prefixTokens: PREFIX, promptTokens: PROMPT, newTokens, repetitions: reps, llm: shape.llm, weights: 'random', lora: 'merged (none)' };
    // One short warm-up of each engine at each batch size (prefill + 1 step: without it the first
    // tfjs repetition at batch 32 ran at a third of the later ones), then the repetitions
    // interleaved (tfjs, ONNX 1 thread, ONNX 2 threads, tfjs, ...), so that a change of machine load
    // hits every engine alike.
    await tfjsGreedy(model, prefix, prompts, 2);
    for (const dec of decoders.values()) await onnxGreedy(dec, prefix, prompts, 2);
    let tfjsIds: number[][] = [];
    const tfjsSamples: number[] = [];
    const onnxSamples = new Map<number, number[]>([...decoders.keys()].map((t) => [t, []]));
    const onnxIds = new Map<number, number[][]>();
    for (let i = 0; i < reps; i++) {
      const r = await time(() => tfjsGreedy(model, prefix, prompts, newTokens));
      tfjsSamples.push((batch * newTokens) / r.seconds);
      tfjsIds = r.value;
      for (const [threads, dec] of decoders) {
        const o = await time(() => onnxGreedy(dec, prefix, prompts, newTokens));
        onnxSamples.get(threads)!.push((batch * newTokens) / o.seconds);
        onnxIds.set(threads, o.value);
      }
    }
    const tfjsValue = report(`model/generate-tfjs-${backend}-${shape.name}`, tfjsSamples, { ...params, backend, itemsPerSecond: median(tfjsSamples) / newTokens });
    for (const threads of decoders.keys()) {
      const samples = onnxSamples.get(threads)!;
      const v = median(samples);
      // Per-repetition ratios (same load), and the ratio of the medians as the headline.
      const pairRatios = samples.map((x, k) => Number((x / tfjsSamples[k]).toFixed(3)));
      report(`model/generate-onnx-${shape.name}-t${threads}`, samples, {
        ...params,
        threads,
        runtime: 'onnxruntime-node',
        itemsPerSecond: v / newTokens,
        vsTfjs: Number((v / tfjsValue).toFixed(3)),
        vsTfjsPerRep: pairRatios,
        tfjsTokensPerSecond: Number(tfjsValue.toFixed(3)),
        sameTokensAsTfjs: JSON.stringify(onnxIds.get(threads)) === JSON.stringify(tfjsIds),
      });
    }
  }
  for (const dec of decoders.values()) dec.end();
  model.dispose();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const only = arg('--only');
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const work: Work = {
    reps: Number(arg('--reps') ?? env('BENCH_REPEATS', 3)),
    newTokens: env('BENCH_NEW_TOKENS', 16),
    largeNewTokens: env('BENCH_LARGE_NEW_TOKENS', 8),
    largeReps: env('BENCH_LARGE_REPEATS', 1),
  };
  for (const [k, v] of Object.entries(work)) if (!Number.isInteger(v) || v < 1) throw new Error(`onnx.bench: ${k} must be a positive integer, got ${v}`);
  const batches = (arg('--batches') ?? process.env.BENCH_BATCHES ?? '1,32').split(',').map(Number);
  const info = await selectBackend((process.env.MATS_BACKEND as 'wasm') ?? 'wasm', { wasmThreads: env('MATS_WASM_THREADS', 1) });
  for (const shape of SHAPES) if (!only || shape.name === only) await benchShape(shape, batches, work, info.selected);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
