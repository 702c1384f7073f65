// GPT-2 and LoRA on the webgpu backend (dawn.node): the PyTorch fixtures of gpt2.test.ts within 1e-4,
// and gradients equal to the cpu backend's within 1e-4. Public API only. Skipped, with the reason in
// the suite name, where no WebGPU adapter exists (CI installs Mesa 25 lavapipe, see .ci/run).
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, probeWebGpu, releaseWebGpu, selectBackend } from '@mats/core';
import { AdamW, type CausalLM, type LoraAdapter, applyLora, buildPrefixLmBatch, generate, loadCausalLM, loadLora, prefixLmLoss, readScalar, trainStep, weightedCrossEntropy } from './index.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The prefix-LM loss of the fixture examples through the public tensor API (embedTokens, forward,
 * lmHead, weightedCrossEntropy), with its gradients for the prefix and every LoRA tensor. Every read
 * is asynchronous: tfjs-webgpu in Node has no synchronous readback (dataSync needs OffscreenCanvas).
 */
async function lossAndGrads(model: CausalLM, adapter: LoraAdapter): Promise<{ loss: number; grads: Float32Array[] }> {
  const [B, P, C] = ref.prefix_shape as number[];
  const batch = buildPrefixLmBatch(ref.examples, P, model.config.eosTokenId, 0);
  const L = batch.textIds[0].length;
  const prefix = tf.variable(tf.tensor3d(ref.prefix, [B, P, C]), true, `webgpu-test-prefix-${tf.getBackend()}`);
  const vars = [prefix, ...adapter.variables()];
  const { value, grads } = tf.variableGrads(() => {
    const inputs = tf.concat([prefix, model.embedTokens(batch.textIds)], 1) as tf.Tensor3D;
    const { hidden } = model.forward(inputs, { attentionMask: batch.attentionMask });
    const rows = tf.reshape(tf.slice(hidden, [0, P - 1, 0], [B, L, C]), [-1, C]);
    return weightedCrossEntropy(model.lmHead(rows) as tf.Tensor2D, batch.targets, batch.lossWeights);
  }, vars);
  const out = { loss: (await value.data())[0], grads: await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array)) };
  tf.dispose([value, ...Object.values(grads), prefix]);
  return out;
}

const probe = await probeWebGpu();
const reason = probe.available ? '' : ` (skipped: ${probe.reason})`;
afterAll(async () => {
  releaseWebGpu();
  await selectBackend('wasm');
});

// Generous: lavapipe compiles every shader on a busy CPU the first time it runs.
describe.skipIf(!probe.available)(`GPT-2 + LoRA on webgpu${reason}`, { timeout: 300_000 }, () => {
  it('logits match the PyTorch reference within 1e-4 (base, PEFT LoRA adapter)', async () => {
    await selectBackend('webgpu');
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const out = await model.logits(ref.ids);
    expect(tf.getBackend()).toBe('webgpu');
    expect(out.shape).toEqual([2, 7, 101]);
    expect(maxAbsDiff(out.data, ref.logits)).toBeLessThan(1e-4);
    model.dispose();
    const lora = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const adapter = loadLora(lora, join(fixtures, 'lora-tiny'));
    expect(maxAbsDiff((await lora.logits(ref.ids)).data, ref.lora_logits)).toBeLessThan(1e-4);
    adapter.dispose();
    lora.dispose();
  });

  it('prefix-LM loss equals the PyTorch value and its gradients (prefix, LoRA A/B) equal the cpu backend within 1e-4', async () => {
    const run = async (backend: 'cpu' | 'webgpu') => {
      await selectBackend(backend);
      const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
      const adapter = loadLora(model, join(fixtures, 'lora-tiny'));
      const out = await lossAndGrads(model, adapter);
      expect(tf.getBackend()).toBe(backend);
      adapter.dispose();
      model.dispose();
      return out;
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    // The LoRA adapter changes the loss, so PyTorch's base-model value is not a reference here; the
    // base model's loss is checked in the next test. Both backends must agree.
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4);
    expect(gpu.grads.length).toBe(1 + 2 * 3);
    gpu.grads.forEach((g, i) => {
      expect(maxAbsDiff(g, cpu.grads[i]), `gradient ${i}`).toBeLessThan(1e-4);
      expect(Math.max(...Array.from(g, Math.abs)), `gradient ${i} is not all zero`).toBeGreaterThan(1e-3);
    });
  });

  it('without LoRA the same loss equals PyTorch prefix_lm_loss within 1e-4', async () => {
    await selectBackend('webgpu');
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const [B, P, C] = ref.prefix_shape as number[];
    const batch = buildPrefixLmBatch(ref.examples, P, model.config.eosTokenId, 0);
    const L = batch.textIds[0].length;
    const loss = tf.tidy(() => {
      const inputs = tf.concat([tf.tensor3d(ref.prefix, [B, P, C]), model.embedTokens(batch.textIds)], 1) as tf.Tensor3D;
      const { hidden } = model.forward(inputs, { attentionMask: batch.attentionMask });
      return weightedCrossEntropy(model.lmHead(tf.reshape(tf.slice(hidden, [0, P - 1, 0], [B, L, C]), [-1, C])) as tf.Tensor2D, batch.targets, batch.lossWeights);
    });
    expect(Math.abs((await loss.data())[0] - ref.prefix_lm_loss)).toBeLessThan(1e-4);
    loss.dispose();
    model.dispose();
  });

  it('prefixLmLoss (packed rows, tied-head loss on the scored rows) equals PyTorch without LoRA, and the cpu backend with LoRA, gradients within 1e-4', async () => {
    const [B, P, C] = ref.prefix_shape as number[];
    const run = async (backend: 'cpu' | 'webgpu', withLora: boolean) => {
      await selectBackend(backend);
      const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
      const adapter = withLora ? loadLora(model, join(fixtures, 'lora-tiny')) : null;
      const batch = buildPrefixLmBatch(ref.examples, P, model.config.eosTokenId, 0);
      const prefix = tf.variable(tf.tensor3d(ref.prefix, [B, P, C]), true, `webgpu-test-prefixlm-${backend}-${withLora}`);
      const vars = [prefix, ...(adapter?.variables() ?? [])];
      const { value, grads } = tf.variableGrads(() => prefixLmLoss(model, prefix as unknown as tf.Tensor3D, batch), vars);
      const out = { loss: (await value.data())[0], grads: await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array)) };
      expect(tf.getBackend()).toBe(backend);
      tf.dispose([value, ...Object.values(grads), prefix]);
      adapter?.dispose();
      model.dispose();
      return out;
    };
    const base = await run('webgpu', false);
    expect(Math.abs(base.loss - ref.prefix_lm_loss)).toBeLessThan(1e-4);
    const cpu = await run('cpu', true);
    const gpu = await run('webgpu', true);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4);
    expect(gpu.grads.length).toBe(1 + 2 * 3);
    gpu.grads.forEach((g, i) => {
      expect(maxAbsDiff(g, cpu.grads[i]), `gradient ${i}`).toBeLessThan(1e-4);
      expect(Math.max(...Array.from(g, Math.abs)), `gradient ${i} is not all zero`).toBeGreaterThan(1e-3);
    });
  });

  it('five LoRA + prefix training steps (dropout, clipping, AdamW on its tensors route: no read inside a step) match the cpu backend (host route) within 1e-4', async () => {
    const [B, P, C] = ref.prefix_shape as number[];
    const run = async (backend: 'cpu' | 'webgpu') => {
      await selectBackend(backend);
      const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
      const adapter = applyLora(model, { dropout: 0.1 }, new Rng(7));
      const prefix = tf.variable(tf.tensor3d(ref.prefix, [B, P, C]), true, `webgpu-test-train-${backend}`);
      const opt = new AdamW([prefix, ...adapter.variables()], { weightDecay: 0.01 });
      expect(opt.route).toBe(backend === 'webgpu' ? 'tensors' : 'host');
      const batch = buildPrefixLmBatch(ref.examples, P, model.config.eosTokenId, 0);
      const rng = new Rng(11); // the same dropout masks on both backends
      const pending: tf.Scalar[] = [];
      for (let step = 0; step < 5; step++) {
        const r = await trainStep(() => prefixLmLoss(model, prefix as unknown as tf.Tensor3D, batch, { training: true, rng }), opt, { lr: 1e-2, maxGradNorm: 1 });
        r.gradNorm?.dispose();
        pending.push(r.loss);
      }
      // The losses are read after the steps, as the trainer reads them at its log steps.
      const losses = await Promise.all(pending.map(readScalar));
      const values = await Promise.all([prefix, ...adapter.variables()].map(async (v) => (await v.data()) as Float32Array));
      expect(tf.getBackend()).toBe(backend);
      opt.dispose();
      prefix.dispose();
      adapter.dispose();
      model.dispose();
      return { losses, values };
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]), `loss ${i}`).toBeLessThan(1e-4));
    expect(gpu.losses[4]).toBeLessThan(gpu.losses[0]);
    gpu.values.forEach((v, i) => expect(maxAbsDiff(v, cpu.values[i]), `parameter ${i}`).toBeLessThan(1e-4));
  });

  it('greedy generation with the KV cache equals the PyTorch reference (plain, penalty 2 + no-repeat-ngram 2)', async () => {
    await selectBackend('webgpu');
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const C = model.config.nEmbd;
    const prefix = { data: new Float32Array(ref.prefix.slice(0, 3 * C)), shape: [3, C] as [number, number] };
    const input = { prefix, promptIds: ref.generation.prompt as number[] };
    expect((await generate(model, input, { maxNewTokens: 12 })).ids).toEqual(ref.generation.greedy);
    expect((await generate(model, input, { maxNewTokens: 12, repetitionPenalty: 2, noRepeatNgramSize: 2 })).ids).toEqual(ref.generation.greedy_rep2_ngram2);
    expect(tf.getBackend()).toBe('webgpu');
    model.dispose();
  });
});
