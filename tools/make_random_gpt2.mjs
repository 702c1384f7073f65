#!/usr/bin/env node
// Writes a random-weight GPT-2 folder in Hugging Face's layout (config.json + model.safetensors, names
// without `transformer.`), so `--preset mats-gpt2` can run through the real trainer with no download
// (apps/trainer/configs/mats-gpt2-smoke.json). The weights are @mats/llm-lora's `createCausalLM`
// initialisation (Hugging Face's: N(0, 0.02), c_proj at N(0, 0.02 / sqrt(2 n_layer)), zero biases,
// unit LayerNorms), seeded. No tokenizer file is written: without one, the loader uses GPT-2's own
// byte-level BPE (r50k_base, shipped in node_modules/gpt-tokenizer), the tokenizer GPT-2 small has.
//
//   npx nx run llm-lora:build && node tools/make_random_gpt2.mjs [--out models/gpt2-random] [--size small|tiny] [--seed 0]
//
// --size small: GPT-2 small (124 M parameters: vocab 50257, 1024 positions, 12 layers, width 768,
// 12 heads; a 498 MB file). --size tiny: the same vocabulary and tokenizer with 2 layers of width 64
// (for quick checks of the route). The output folder is git-ignored (/models/).
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@mats/core';
import { createCausalLM, loadCausalLM, makeConfig, saveCausalLM } from '@mats/llm-lora';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = {
  small: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, eosTokenId: 50256 },
  tiny: { vocabSize: 50257, nPositions: 1024, nEmbd: 64, nLayer: 2, nHead: 2, eosTokenId: 50256 },
};

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name}: expected a value`);
  return value;
}

const out = resolve(ROOT, option('out', 'models/gpt2-random'));
const size = option('size', 'small');
const seed = Number(option('seed', '0'));
if (!(size in SIZES)) throw new Error(`--size: expected one of ${Object.keys(SIZES).join(', ')}, got "${size}"`);
if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got "${option('seed')}"`);

const t0 = Date.now();
const config = makeConfig(SIZES[size]);
const model = createCausalLM(config, new Rng(seed));
if (existsSync(out)) for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) rmSync(join(out, f), { force: true });
await saveCausalLM(model, out);
model.dispose();
// Read it back the way the trainer does (names, shapes, finite values, tokenizer).
const loaded = loadCausalLM(out);
const parameters = [...loaded.weights.values()].reduce((n, v) => n + v.size, 0);
const tokenizer = loaded.tokenizer?.kind ?? 'none';
loaded.dispose();
console.log(`${out}: random GPT-2 (${size}, seed ${seed}), ${(parameters / 1e6).toFixed(1)} M parameters, tokenizer ${tokenizer}, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
