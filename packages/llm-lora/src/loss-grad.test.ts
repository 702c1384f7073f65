/**
 * prefixLmLoss and its gradients w.r.t. the prefix and every LoRA A / B against PyTorch
 * (tools/make_prefix_lm_grad_fixture.py): a small random GPT-2 in Hugging Face layout with a PEFT
 * adapter on c_attn, a right-padded batch of 3 rows of different lengths, dropout off.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, selectBackend } from '@mats/core';
import { loadCausalLM } from './gpt2.js';
import { loadLora } from './lora.js';
import { buildPrefixLmBatch, prefixLmLoss } from './loss.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(fixtures, 'prefix-lm-grad', 'reference.json'), 'utf8'));
const refGrads = readSafetensors(join(fixtures, 'prefix-lm-grad', 'grads.safetensors')).tensors;

beforeAll(async () => {
  await selectBackend('wasm');
});

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('prefix-LM loss gradients against PyTorch', () => {
  it('loss and d/d prefix, d/d lora_A, d/d lora_B of every c_attn match within 1e-4 on a padded batch', () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-grad'));
    const adapter = loadLora(model, join(fixtures, 'lora-grad'));
    expect(adapter.layers.size).toBe(2);
    const prefix = tf.variable(tf.tensor3d(ref.prefix, ref.prefix_shape), true);
    const batch = buildPrefixLmBatch(ref.examples, ref.prefix_length, ref.eos);
    expect(new Set(batch.textIds.map((r) => r.length)).size).toBe(1);
    expect(batch.attentionMask.some((r) => r.includes(0))).toBe(true); // really padded
    expect(batch.lossTokens).toBe(ref.loss_tokens);
    const { value, grads } = tf.variableGrads(() => prefixLmLoss(model, prefix as unknown as tf.Tensor3D, batch), [prefix, ...adapter.variables()]);
    expect(Math.abs(value.dataSync()[0] - ref.loss)).toBeLessThan(1e-4);

    const prefixGrad = refGrads.get('prefix')!;
    expect(prefixGrad.shape).toEqual(ref.prefix_shape);
    const g = grads[prefix.name].dataSync();
    expect(maxAbsDiff(g, prefixGrad.data as Float32Array)).toBeLessThan(1e-4);
    // The reference is not trivially small: a wrong mask or position would show.
    expect(Math.max(...Array.from(prefixGrad.data as Float32Array).map(Math.abs))).toBeGreaterThan(1e-2);

    let checked = 0;
    for (const [name, layer] of adapter.layers) {
      const a = refGrads.get(`base_model.model.transformer.${name}.lora_A.weight`)!; // [r, in]
      const b = refGrads.get(`base_model.model.transformer.${name}.lora_B.weight`)!; // [out, r]
      const [r, inDim] = a.shape;
      const [outDim] = b.shape;
      // Ours are A [in, r] and B [r, out]: compare in PEFT's layout.
      expect(maxAbsDiff(transpose(grads[layer.loraA.name].dataSync() as Float32Array, inDim, r), a.data as Float32Array)).toBeLessThan(1e-4);
      expect(maxAbsDiff(transpose(grads[layer.loraB.name].dataSync() as Float32Array, r, outDim), b.data as Float32Array)).toBeLessThan(1e-4);
      checked += 2;
    }
    expect(checked).toBe(4);
    tf.dispose([value, ...Object.values(grads), prefix]);
    adapter.dispose();
    model.dispose();
  });
});
