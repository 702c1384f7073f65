/**
 * The MATS training step and greedy generation on the webgpu backend (dawn.node), for `nx run
 * bench:perf`: the world shape and the GPT-2-small shape (paper size) at batch 8, the work of
 * llm-lora.bench.ts and tools/bench_train_step_reference.py (plus the mapper's output projection),
 * with the step kept on the device (tools/gpu/train-step.mjs says why). Runs only where a hardware
 * WebGPU adapter exists and prints why not otherwise; a CPU adapter (lavapipe) runs only with
 * MATS_BENCH_WEBGPU=software, and then only the world shape (it binds at most 128 MiB per buffer).
 *   npx tsx packages/llm-lora/bench/webgpu.bench.ts [--reps N]
 */
import { describeBackend, probeWebGpu, releaseWebGpu, selectBackend, type BackendInfo } from '@mats/core';

interface TrainStepModule {
  runTrainStepBench(options: {
    model: string;
    batches: number[];
    reps: number;
    warmup: number;
    name: (what: string, model: string, batch: number) => string;
    backendInfo: BackendInfo;
  }): Promise<void>;
}

/** Bytes of GPT-2 small's token embedding [50257, 768] float32: the largest buffer of the paper-size step. */
const GPT2_SMALL_WTE_BYTES = 50257 * 768 * 4;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 3;
  const probe = await probeWebGpu();
  if (!probe.available) {
    console.log(`webgpu benchmarks skipped: ${probe.reason}`);
    return;
  }
  if (probe.info.software && process.env.MATS_BENCH_WEBGPU !== 'software') {
    console.log(`webgpu benchmarks skipped: the adapter is a CPU implementation (${probe.info.description || probe.info.device}); MATS_BENCH_WEBGPU=software runs them anyway`);
    return;
  }
  const info = await selectBackend('webgpu');
  console.log(`backend: ${describeBackend(info)}`);
  const { runTrainStepBench } = (await import(new URL('../../../tools/gpu/train-step.mjs', import.meta.url).href)) as TrainStepModule;
  // Named after llm-lora.bench.ts's figures with a -webgpu suffix; benchmarks/src/config.ts pairs them with the references.
  const name = (what: string, model: string) => `llm-lora/${what}-${model}-webgpu`;
  try {
    const models = probe.info.maxStorageBufferBindingSize >= GPT2_SMALL_WTE_BYTES && !probe.info.software ? ['world', 'gpt2-small'] : ['world'];
    for (const model of models) await runTrainStepBench({ model, batches: [8], reps, warmup: 2, name, backendInfo: info });
  } finally {
    releaseWebGpu();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
