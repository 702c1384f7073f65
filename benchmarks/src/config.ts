/**
 * How `nx run bench:perf` runs each script. Every `packages/<pkg>/bench/*.bench.ts` and every
 * `tools/bench_*reference*.py` is found automatically; this table only tunes repetitions and time
 * limits so that the whole suite stays near 10 minutes on a 2-core machine. A script not listed runs
 * with its own defaults and DEFAULT_TIMEOUT_S.
 */
export interface ScriptSettings {
  /** Extra command-line arguments. */
  args?: string[];
  /** Extra environment variables (the scripts' own knobs). */
  env?: Record<string, string>;
  /** Wall-clock limit in seconds; the script is killed and recorded as failed past it. */
  timeoutS?: number;
}

export const DEFAULT_TIMEOUT_S = 300;

export const SCRIPT_SETTINGS: Record<string, ScriptSettings> = {
  'packages/bench/bench/metrics.bench.ts': { env: { BENCH_ITEMS: '2000' }, timeoutS: 120 },
  'packages/clap/bench/clap.bench.ts': { env: { BENCH_REPS: '3' }, timeoutS: 180 },
  'packages/datasets/bench/datasets.bench.ts': { timeoutS: 240 },
  // 10 k, 100 k and 1 M records through the streaming input pipeline, one child process per size.
  'packages/datasets/bench/input-pipeline.bench.ts': { timeoutS: 420 },
  // ml-kmeans (the library baseline) takes minutes; the suite times our fast k-means.
  'packages/santa/bench/santa.bench.ts': { env: { BENCH_REPEATS: '3', BENCH_IMPLEMENTATIONS: 'fast' }, timeoutS: 180 },
  // Paper-size mapper: one warm-up, one timed training step (tens of seconds each).
  'packages/mapper/bench/mapper.bench.ts': { env: { MATS_BENCH_REPS: '1' }, timeoutS: 300 },
  // GPT-2-small training steps take minutes on wasm: one warm-up, one timed step.
  'packages/llm-lora/bench/llm-lora.bench.ts': { args: ['--reps', '1', '--warmup', '1'], timeoutS: 1500 },
  // webgpu rows: only where a hardware adapter exists (the script prints why it skips otherwise).
  'packages/llm-lora/bench/webgpu.bench.ts': { args: ['--reps', '3'], timeoutS: 600 },
  // Batched answering (64 items, batch 32 vs 1), tiny world models.
  'packages/model/bench/model.bench.ts': { env: { BENCH_REPEATS: '3' }, timeoutS: 300 },
  // Greedy generation tfjs-wasm vs onnxruntime-node (1 and 2 threads), batch 1 and 32, world and
  // GPT-2-small shapes, 16 new tokens; GPT-2 small at batch 32 (about a minute per tfjs repetition)
  // generates 8 tokens once. A few minutes in all.
  'packages/model/bench/onnx.bench.ts': { env: { BENCH_REPEATS: '3', BENCH_NEW_TOKENS: '16', BENCH_LARGE_NEW_TOKENS: '8', BENCH_LARGE_REPEATS: '1' }, timeoutS: 900 },
  // World MMAU end to end, tfjs vs ONNX 1 and 2 threads (skips without a trained run and the world folder).
  'packages/model/bench/onnx-world.bench.ts': { env: { BENCH_ITEMS: '300' }, timeoutS: 600 },
  'tools/bench_generate_onnx_reference.py': { env: { BENCH_REPEATS: '2', BENCH_WARMUP: '1', BENCH_NEW_TOKENS: '16', BENCH_LARGE_NEW_TOKENS: '8' }, timeoutS: 900 },
  'tools/bench_santa_reference.py': { env: { BENCH_REPEATS: '3' }, timeoutS: 180 },
  'tools/bench_mapper_reference.py': { env: { BENCH_REPEATS: '1', BENCH_WARMUP: '1' }, timeoutS: 300 },
  'tools/bench_train_step_reference.py': { env: { BENCH_REPEATS: '3', BENCH_REPEATS_SLOW: '1', BENCH_WARMUP: '1' }, timeoutS: 600 },
};

/**
 * Our benchmark name -> the reference it is compared with, where the reference does the same work
 * under another name (k-means: our implementations against scikit-learn's).
 */
export const REFERENCE_ALIASES: Record<string, string> = {
  'santa/memory-build-fast': 'reference/santa/memory-build-sklearn',
  'santa/memory-build-ml-kmeans': 'reference/santa/memory-build-sklearn',
  // The same MATS step / generation on webgpu (packages/llm-lora/bench/webgpu.bench.ts).
  'llm-lora/train-step-world-webgpu': 'reference/llm-lora/train-step-world',
  'llm-lora/generate-greedy-world-webgpu': 'reference/llm-lora/generate-greedy-world',
  'llm-lora/train-step-gpt2-small-webgpu': 'reference/llm-lora/train-step-gpt2-small',
  'llm-lora/generate-greedy-gpt2-small-webgpu': 'reference/llm-lora/generate-greedy-gpt2-small',
};

/** The Python with PyTorch, numpy and scikit-learn (Debian's); plain `python3` may be another one. */
export const PYTHON = process.env.MATS_PYTHON ?? '/usr/bin/python3';
