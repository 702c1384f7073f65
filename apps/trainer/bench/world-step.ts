/**
 * The trainer's own step on the `world` preset, in process: the real `Trainer` (batch source, cached
 * tokenisation, noise, LoRA dropout, mapper + LoRA GPT-2 loss, clipping, AdamW) on the world data
 * and its embedding cache, without run folder, validation or checkpoints. Prints samples/s and
 * ms/step over `--steps` steps after `--warmup` steps; `--profile` adds tf.profile's kernels of one
 * step. Needs the world folder and the embedding cache (one `trainer:train` run makes both).
 * `--workers 1,2` times one Trainer per `train.workers` value, alternating blocks of `--steps` steps
 * (A B A B, `--rounds` times) so that both see the same machine load, and prints the wall ratio. Run:
 *   npx tsx apps/trainer/bench/world-step.ts [--steps 200] [--warmup 20] [--batch 8] [--backend wasm] [--workers 1,2 --rounds 3] [--profile]
 * The same file runs against an older checkout (A/B timing): it only uses the Trainer's public shape
 * (without --workers it sets no train.workers).
 */
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@mats/core';
import { loadClap, loadLlm, modelSpec, resolveConfig } from '@mats/app-shared';
import { buildMemory } from '@mats/santa';
import { MatsModel } from '@mats/model';
import { InMemoryBatches } from '../src/batches.js';
import { loadTrainingData } from '../src/data.js';
import { Trainer, prepareEmbeddings } from '../src/train.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '200'));
  const warmup = Number(arg('warmup', '20'));
  const rounds = Number(arg('rounds', '1'));
  const workerCounts = process.argv.includes('--workers') ? arg('workers', '1').split(',').map(Number) : [null];
  const threads = Number(arg('threads', '1'));
  const backend = await selectBackend(arg('backend', 'wasm') as 'wasm', threads > 1 ? { wasmThreads: threads } : undefined);
  const configOf = (workers: number | null) => resolveConfig({ preset: 'world', overrides: [
    { path: 'train.steps', raw: String(warmup + rounds * steps + 1000) },
    { path: 'train.batchSize', raw: arg('batch', '8') },
    ...(workers === null ? [] : [{ path: 'train.workers', raw: String(workers) }]),
  ] });
  const config = configOf(null);
  const clap = await loadClap(config);
  const data = await loadTrainingData(config, false);
  const prepared = (await prepareEmbeddings(config, data, clap, { progress: 'silent', log: () => {} }))!;
  const memory = buildMemory(prepared.textEmbeddings, { k: 10, variance: config.train.noiseVariance, seed: 0, maxSize: 200 });
  // The losses since the last call (a trainer that defers the loss read has readLosses; an older one
  // read every loss inside trainStep).
  const drain = async (trainer: Trainer): Promise<number[]> => {
    const deferred = trainer as unknown as { readLosses?: () => Promise<number[]> };
    if (deferred.readLosses) await deferred.readLosses();
    const window = trainer.lossWindow;
    trainer.lossWindow = [];
    return window;
  };
  const runs = [];
  for (const workers of workerCounts) {
    const c = configOf(workers);
    const batches = new InMemoryBatches(data, prepared, c.seed, c.data.validationMax);
    const model = MatsModel.create(modelSpec(c), { clap, llm: loadLlm(c), memory });
    const trainer = new Trainer(model, c, batches, tmpdir());
    await trainer.start(null);
    for (let i = 0; i < warmup; i++) await trainer.trainStep();
    await drain(trainer);
    runs.push({ workers, trainer, ms: 0, cpuMs: 0, losses: [] as number[] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const run of runs) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await run.trainer.trainStep();
      run.losses.push(...(await drain(run.trainer)));
      run.ms += performance.now() - t0;
      const cpu = process.cpuUsage(cpu0); // the whole process: worker threads included
      run.cpuMs += (cpu.user + cpu.system) / 1000;
    }
  }
  const batch = config.train.batchSize;
  for (const run of runs) {
    const ms = run.ms / (rounds * steps);
    const meanLoss = run.losses.reduce((a, b) => a + b, 0) / run.losses.length;
    console.log(JSON.stringify({ benchmark: 'trainer/world-step', value: (1000 * batch) / ms, unit: 'samples/s', higherIsBetter: true, samples: [(1000 * batch) / ms], params: { backend: backend.selected, workers: run.workers ?? 1, steps, rounds, warmup, batch, msPerStep: Number(ms.toFixed(2)), cpuMsPerStep: Number((run.cpuMs / (rounds * steps)).toFixed(2)), meanLoss: Number(meanLoss.toFixed(5)), tensors: tf.memory().numTensors } }));
  }
  if (runs.length > 1) {
    const base = runs[0].ms;
    console.log(`wall-time speed-up over workers ${runs[0].workers}: ${runs.slice(1).map((r) => `workers ${r.workers} ${(base / r.ms).toFixed(2)}x`).join(', ')}`);
  }
  const trainer = runs[0].trainer;
  if (process.argv.includes('--profile')) {
    const profile = await tf.profile(async () => void (await trainer.trainStep()));
    const byKernel = new Map<string, { calls: number; ms: number }>();
    for (const k of profile.kernels) {
      const e = byKernel.get(k.name) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += k.kernelTimeMs as number;
      byKernel.set(k.name, e);
    }
    console.log(`${profile.kernels.length} kernels, ${[...byKernel.values()].reduce((s, e) => s + e.ms, 0).toFixed(1)} ms in kernels`);
    for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`${name.padEnd(22)} ${String(e.calls).padStart(5)} calls ${e.ms.toFixed(1).padStart(8)} ms`);
    const byShape = new Map<string, { calls: number; ms: number }>();
    for (const k of profile.kernels) {
      if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
      const key = `${k.name} ${JSON.stringify(k.inputShapes.slice(0, 2))}`;
      const e = byShape.get(key) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += k.kernelTimeMs as number;
      byShape.set(key, e);
    }
    console.log('matmuls by operand shapes:');
    for (const [key, e] of [...byShape.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) console.log(`  ${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(4)} calls  ${key}`);
  }
  for (const run of runs) await (run.trainer as unknown as { close?: () => Promise<void> }).close?.();
  await clap.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
