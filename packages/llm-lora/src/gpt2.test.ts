import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, readSafetensors, selectBackend, writeSafetensors } from '@mats/core';
import { Conv1D, loadCausalLM, createCausalLM, saveCausalLM } from './gpt2.js';
import { applyLora, loadLora, matchesTarget, mergeLora, saveLora } from './lora.js';
import { makeConfig } from './config.js';
import { buildWordLevelTokenizer } from './tokenizer.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('GPT-2 parity with the PyTorch reference (tools/make_gpt2_fixtures.py)', () => {
  it('logits match within 1e-4 with the transformer. prefix (and lm_head.weight ignored)', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const out = await model.logits(ref.ids);
    expect(out.shape).toEqual([2, 7, 101]);
    expect(maxAbsDiff(out.data, ref.logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('logits match within 1e-4 without the prefix (hub layout with attn.bias buffers)', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny-noprefix'));
    const out = await model.logits(ref.ids);
    expect(maxAbsDiff(out.data, ref.logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('a padded row gives the same logits at its real positions as the unpadded row', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const short = ref.ids[1].slice(0, 4);
    const alone = await model.logits([short]);
    const padded = await model.logits([ref.ids[0], [...short, 0, 0, 0]], [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]]);
    const row = padded.data.subarray(7 * 101, 7 * 101 + 4 * 101);
    expect(maxAbsDiff(row, alone.data)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('forwardRows (packed real positions, last block on the output rows) gives forward\'s hidden states and input gradients at those rows', () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    applyLora(model, { dropout: 0 }, new Rng(3));
    const B = 3;
    const T = 6;
    const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]];
    const rows = Int32Array.from([5, 1, 2, 6 + 2, 12 + 0, 12 + 4, 3]);
    const x = tf.randomNormal([B, T, model.config.nEmbd], 0, 1, 'float32', 5) as tf.Tensor3D;
    const cot = tf.randomNormal([rows.length, model.config.nEmbd], 0, 1, 'float32', 6);
    const viaForward = (v: tf.Tensor) => tf.gather(tf.reshape(model.forward(v as tf.Tensor3D, { attentionMask: mask }).hidden, [B * T, -1]), tf.tensor1d(rows, 'int32'));
    const viaRows = (v: tf.Tensor) => model.forwardRows(v as tf.Tensor3D, mask, rows);
    expect(maxAbsDiff(viaRows(x).dataSync(), viaForward(x).dataSync())).toBeLessThan(1e-5);
    // Gradients w.r.t. the inputs (what the mapper's prefix gets): the same at every real position.
    // tf.gather has no gradient on wasm, so the reference goes through a one-hot product.
    const pick = tf.oneHot(tf.tensor1d(rows, 'int32'), B * T).toFloat();
    const gRef = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.matMul(pick, tf.reshape(model.forward(v as tf.Tensor3D, { attentionMask: mask }).hidden, [B * T, -1])), cot)))(x);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(viaRows(v), cot)))(x);
    const realMask = tf.reshape(tf.tensor2d(mask), [B, T, 1]);
    expect(maxAbsDiff(tf.mul(g, realMask).dataSync(), tf.mul(gRef, realMask).dataSync())).toBeLessThan(1e-5);
    expect(maxAbs(g.dataSync())).toBeGreaterThan(1e-3);
    expect(() => model.forwardRows(x, mask, Int32Array.from([6 + 4]))).toThrow(/output row 0 \(10\) is not a real position of the \[3, 6\] batch/);
    expect(() => model.forwardRows(x, [[1, 0, 1, 1, 1, 1], ...mask.slice(1)], rows)).toThrow(/row 0 is not right-padded/);
    tf.dispose([x, cot, pick, realMask, g, gRef]);
    model.dispose();
  });

  it('LoRA logits from a PEFT adapter file match within 1e-4; merged too', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const adapter = loadLora(model, join(fixtures, 'lora-tiny'));
    expect([...adapter.layers.keys()]).toEqual(['h.0.attn.c_attn', 'h.1.attn.c_attn', 'h.2.attn.c_attn']);
    const out = await model.logits(ref.ids);
    expect(maxAbsDiff(out.data, ref.lora_logits)).toBeLessThan(1e-4);
    mergeLora(model, adapter);
    expect(model.namedModules().every(([, m]) => m instanceof Conv1D)).toBe(true);
    expect(() => mergeLora(model, adapter)).toThrow(/module "h\.0\.attn\.c_attn" of the model is not this adapter's wrapper/);
    const merged = await model.logits(ref.ids);
    expect(maxAbsDiff(merged.data, ref.lora_logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('saveLora writes PEFT names and shapes that loadLora reads back identically', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const adapter = loadLora(model, join(fixtures, 'lora-tiny'));
    const dir = mkdtempSync(join(tmpdir(), 'lora-'));
    await saveLora(adapter, dir);
    const file = readSafetensors(join(dir, 'adapter_model.safetensors'));
    const original = readSafetensors(join(fixtures, 'lora-tiny', 'adapter_model.safetensors'));
    expect([...file.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    expect(file.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, 32]);
    expect(file.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([96, 4]);
    for (const [name, t] of original.tensors) expect(Array.from(file.tensors.get(name)!.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['c_attn'], fan_in_fan_out: true });
    adapter.dispose();
    model.dispose();
  });

  it('exposes its projections under Hugging Face names; LoRA targets them by suffix as PEFT does', () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const names = model.namedModules().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual(['h.0.attn.c_attn', 'h.0.attn.c_proj', 'h.0.mlp.c_fc', 'h.0.mlp.c_proj']);
    expect(names).toHaveLength(3 * 4);
    expect(matchesTarget('h.0.attn.c_proj', ['c_proj'])).toBe(true);
    expect(matchesTarget('h.0.mlp.c_proj', ['c_proj'])).toBe(true);
    expect(matchesTarget('h.0.mlp.c_proj', ['attn.c_proj'])).toBe(false);
    expect(matchesTarget('h.0.attn.xc_proj', ['c_proj'])).toBe(false);
    expect(matchesTarget('h.1.attn.c_attn', ['h.1.attn.c_attn'])).toBe(true);
    const both = applyLora(model, { targetModules: ['c_proj'] }, new Rng(1));
    expect([...both.layers.keys()]).toEqual(['h.0.attn.c_proj', 'h.0.mlp.c_proj', 'h.1.attn.c_proj', 'h.1.mlp.c_proj', 'h.2.attn.c_proj', 'h.2.mlp.c_proj']);
    expect(model.namedModules().find(([n]) => n === 'h.1.mlp.c_proj')![1]).toBe(both.layers.get('h.1.mlp.c_proj'));
    expect(() => applyLora(model, { targetModules: ['mlp.c_proj'] }, new Rng(1))).toThrow(/module "h\.0\.mlp\.c_proj" already has a LoRA adapter/);
    const attnOnly = applyLora(model, { targetModules: ['attn.c_attn'] }, new Rng(2));
    expect([...attnOnly.layers.keys()]).toEqual(['h.0.attn.c_attn', 'h.1.attn.c_attn', 'h.2.attn.c_attn']);
    expect(attnOnly.parameterCount).toBe(3 * (32 * 8 + 8 * 96));
    expect(() => applyLora(model, { targetModules: ['q_proj'] }, new Rng(1))).toThrow(/target module "q_proj" matches no module of the model \(module names end in c_attn, c_proj, c_fc\)/);
    expect(() => model.setModule('h.3.attn.c_attn', both.layers.get('h.0.attn.c_proj')!)).toThrow(/no module "h\.3\.attn\.c_attn"/);
    tf.dispose([...both.variables(), ...attnOnly.variables()]);
    model.dispose();
  });

  it('a fresh LoRA adapter (B = 0) leaves the logits bit-identical', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    const before = await model.logits(ref.ids);
    const lora = applyLora(model, { targetModules: ['c_attn', 'c_proj', 'c_fc'] }, new Rng(3));
    expect(lora.layers.size).toBe(3 * 4);
    const a = await lora.layers.get('h.0.attn.c_attn')!.loraA.data();
    // Kaiming-uniform bound 1/sqrt(in) = 1/sqrt(32), and not all zero.
    expect(Math.max(...Array.from(a).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(32));
    expect(Math.max(...Array.from(a).map(Math.abs))).toBeGreaterThan(0.1);
    const after = await model.logits(ref.ids);
    expect(maxAbsDiff(after.data, before.data)).toBe(0);
    model.dispose();
  });

  it('saveCausalLM round-trips through loadCausalLM (HF names, config keys)', async () => {
    const config = makeConfig({ vocabSize: 30, nEmbd: 16, nLayer: 2, nHead: 2, nPositions: 20 });
    const model = createCausalLM(config, new Rng(1));
    const dir = mkdtempSync(join(tmpdir(), 'gpt2-'));
    await saveCausalLM(model, dir, buildWordLevelTokenizer(['a dog barks', 'a bell rings']));
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(hf).toMatchObject({ n_embd: 16, n_layer: 2, n_head: 2, n_positions: 20, vocab_size: 30, model_type: 'gpt2' });
    const loaded = loadCausalLM(dir);
    // ids: 3 specials, then 'a' (count 2), then barks, bell, dog, rings (count 1, alphabetical)
    expect(loaded.tokenizer!.encode('a dog rings')).toEqual([3, 6, 7]);
    const ids = [[1, 2, 3, 4]];
    expect(maxAbsDiff((await loaded.logits(ids)).data, (await model.logits(ids)).data)).toBe(0);
    model.dispose();
    loaded.dispose();
  });
});

describe('bad checkpoints give errors naming the tensor or field', () => {
  function copyFixture(): string {
    const dir = mkdtempSync(join(tmpdir(), 'gpt2-bad-'));
    cpSync(join(fixtures, 'gpt2-tiny'), dir, { recursive: true });
    return dir;
  }
  function rewrite(dir: string, edit: (m: Map<string, { data: Float32Array; shape: number[] }>) => void): void {
    const file = readSafetensors(join(dir, 'model.safetensors'));
    const m = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const [k, t] of file.tensors) m.set(k, { data: t.data as Float32Array, shape: t.shape });
    edit(m);
    writeSafetensors(join(dir, 'model.safetensors'), m);
  }

  it('missing tensor', () => {
    const dir = copyFixture();
    rewrite(dir, (m) => m.delete('transformer.h.1.mlp.c_fc.bias'));
    expect(() => loadCausalLM(dir)).toThrow(/missing tensor "transformer\.h\.1\.mlp\.c_fc\.bias"/);
  });

  it('misshaped tensor (a Linear [out, in] where Conv1D [in, out] is expected)', () => {
    const dir = copyFixture();
    rewrite(dir, (m) => m.set('transformer.h.0.attn.c_attn.weight', { data: new Float32Array(96 * 32), shape: [96, 32] }));
    expect(() => loadCausalLM(dir)).toThrow(/tensor "transformer\.h\.0\.attn\.c_attn\.weight" has shape \[96,32\], expected \[32,96\]/);
  });

  it('config that does not match the weights', () => {
    for (const [field, value, pattern] of [
      ['n_embd', 64, /config n_embd is 64 but tensor "transformer\.wte\.weight" has width 32/],
      ['vocab_size', 102, /config vocab_size is 102 but tensor "transformer\.wte\.weight" has 101 rows/],
      ['n_layer', 2, /config n_layer is 2 but the file has 3 layers/],
      ['n_positions', 128, /config n_positions is 128/],
    ] as const) {
      const dir = copyFixture();
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg[field] = value;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      expect(() => loadCausalLM(dir), field).toThrow(pattern);
    }
  });

  it('bad config fields', () => {
    const dir = copyFixture();
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_head: 5 }));
    expect(() => loadCausalLM(dir)).toThrow(/n_embd \(32\) must be divisible by n_head \(5\)/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, activation_function: 'relu' }));
    expect(() => loadCausalLM(dir)).toThrow(/"activation_function" is "relu"/);
    const { n_layer: _omit, ...rest } = cfg;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(rest));
    expect(() => loadCausalLM(dir)).toThrow(/missing field "n_layer"/);
  });

  it('adapter with a missing or misshaped tensor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-bad-'));
    cpSync(join(fixtures, 'lora-tiny'), dir, { recursive: true });
    const file = readSafetensors(join(dir, 'adapter_model.safetensors'));
    const m = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const [k, t] of file.tensors) m.set(k, { data: t.data as Float32Array, shape: t.shape });
    m.set('base_model.model.transformer.h.2.attn.c_attn.lora_B.weight', { data: new Float32Array(4 * 32), shape: [32, 4] });
    writeSafetensors(join(dir, 'adapter_model.safetensors'), m);
    expect(() => loadLora(loadCausalLM(join(fixtures, 'gpt2-tiny')), dir)).toThrow(/"base_model\.model\.transformer\.h\.2\.attn\.c_attn\.lora_B\.weight" has shape \[32,4\], expected \[96,4\]/);
    m.delete('base_model.model.transformer.h.1.attn.c_attn.lora_A.weight');
    writeSafetensors(join(dir, 'adapter_model.safetensors'), m);
    expect(() => loadLora(loadCausalLM(join(fixtures, 'gpt2-tiny')), dir)).toThrow(/missing tensor "base_model\.model\.transformer\.h\.1\.attn\.c_attn\.lora_A\.weight"/);
  });

  it('bad ids and shapes', async () => {
    const model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
    await expect(model.logits([[1, 2, 101]])).rejects.toThrow(/id 101 at \[0, 2\] is outside the vocabulary \[0, 101\)/);
    await expect(model.logits([[1, 2], [1]])).rejects.toThrow(/row 1 has 1 ids, expected 2/);
    await expect(model.logits([new Array(65).fill(1)])).rejects.toThrow(/65 positions exceeds n_positions 64/);
    model.dispose();
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });
});
