/**
 * Per-kernel profile of one training step (frozen GPT-2 + LoRA + a trainable stand-in prefix), the
 * tool that guided the wasm optimisations in the op layer (ops of @mats/core). Run:
 *   npx tsx packages/llm-lora/bench/profile-train-step.ts [world|gpt2-small] [rows]
 * Prints the step time and the kernels sorted by total time, with example input shapes.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, selectBackend } from '@mats/core';
import { AdamW, applyLora, buildPrefixLmBatch, createCausalLM, makeConfig, prefixLmLoss, readScalar, trainStep } from '../src/index.js';

async function main(): Promise<void> {
  await selectBackend('wasm');
  const which = process.argv[2] ?? 'world';
  const rows = Number(process.argv[3] ?? (which === 'world' ? 8 : 2));
  const cfg =
    which === 'world'
      ? makeConfig({ vocabSize: 512, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 })
      : makeConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 });
  const rng = new Rng(0);
  const model = createCausalLM(cfg, rng);
  const lora = applyLora(model, {}, rng);
  const prefix = tf.variable(tf.randomNormal([rows, 40, cfg.nEmbd], 0, 0.02), true);
  const V = cfg.vocabSize - 1;
  const examples = Array.from({ length: rows }, () => ({ instruction: Array.from({ length: 8 }, () => rng.int(V)), answer: Array.from({ length: 23 }, () => rng.int(V)) }));
  const batch = buildPrefixLmBatch(examples, 40, cfg.eosTokenId);
  const opt = new AdamW([prefix, ...lora.variables()]);
  const step = async () => {
    const r = await trainStep(() => prefixLmLoss(model, prefix as unknown as tf.Tensor3D, batch, { training: true, rng }), opt, { lr: 1e-4, maxGradNorm: 1 });
    r.gradNorm?.dispose();
    return readScalar(r.loss);
  };
  await step();
  const t0 = performance.now();
  await step();
  console.log(`${which}, ${rows} rows: step ${(performance.now() - t0).toFixed(0)} ms`);
  const profile = await tf.profile(async () => {
    await step();
  });
  const byKernel = new Map<string, { calls: number; ms: number; shapes: Set<string> }>();
  for (const k of profile.kernels) {
    const entry = byKernel.get(k.name) ?? { calls: 0, ms: 0, shapes: new Set<string>() };
    entry.calls++;
    entry.ms += k.kernelTimeMs as number;
    if (entry.shapes.size < 3) entry.shapes.add(JSON.stringify(k.inputShapes));
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`${profile.kernels.length} kernels, ${total.toFixed(0)} ms in kernels ("unnamed scope" = custom-gradient ops, overlapping their kernels)`);
  for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`${name.padEnd(20)} ${String(e.calls).padStart(4)} calls ${e.ms.toFixed(1).padStart(9)} ms  ${[...e.shapes].join(' ')}`);
  }
  // Matmuls by operand shapes: which products the time goes to.
  const byShape = new Map<string, { calls: number; ms: number }>();
  for (const k of profile.kernels) {
    if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
    const key = `${k.name} ${JSON.stringify(k.inputShapes.slice(0, 2))}`;
    const entry = byShape.get(key) ?? { calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += k.kernelTimeMs as number;
    byShape.set(key, entry);
  }
  console.log('matmuls by operand shapes:');
  for (const [key, e] of [...byShape.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`  ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(4)} calls  ${key}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
