#!/usr/bin/env node
/**
 * The webgpu parity checks of the *.webgpu.test.ts files as a plain script, for a machine without
 * vitest (tools/gpu/check.sh runs it from the bundle): GPT-2 logits (base and PEFT LoRA), the prefix-LM
 * loss against PyTorch, its gradients against the cpu backend, greedy generation, the mapper's forward
 * against PyTorch and its gradients against the cpu backend, all within 1e-4.
 *
 *   node tools/gpu/parity.mjs [--root <dir holding packages/*\/fixtures>]
 *
 * One JSON line per check on stdout ({"check", "maxAbsDiff", "tolerance", "pass"}); exit code 1 when
 * any check fails.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEmbeddings, describeBackend, l2Normalize, releaseWebGpu, selectBackend } from '@mats/core';
import { buildPrefixLmBatch, generate, loadCausalLM, loadLora, weightedCrossEntropy } from '@mats/llm-lora';
import { loadMapper } from '@mats/mapper';

const TOLERANCE = 1e-4;
const args = process.argv.slice(2);
const root = resolve(args.includes('--root') ? args[args.indexOf('--root') + 1] : new URL('../..', import.meta.url).pathname);
const lmFixtures = join(root, 'packages/llm-lora/fixtures');
const mapperFixtures = join(root, 'packages/mapper/fixtures');
const ref = JSON.parse(readFileSync(join(lmFixtures, 'reference.json'), 'utf8'));
let failures = 0;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

function check(name, diff, extra = {}) {
  const pass = diff < TOLERANCE;
  if (!pass) failures++;
  process.stdout.write(`${JSON.stringify({ check: name, maxAbsDiff: diff, tolerance: TOLERANCE, pass, ...extra })}\n`);
}

function checkEqual(name, got, want) {
  const pass = JSON.stringify(got) === JSON.stringify(want);
  if (!pass) failures++;
  process.stdout.write(`${JSON.stringify({ check: name, pass, ...(pass ? {} : { got, want }) })}\n`);
}

/** Prefix-LM loss of the fixture examples (public tensor API) and its gradients, read asynchronously. */
async function lossAndGrads(model, adapter = null) {
  const [B, P, C] = ref.prefix_shape;
  const batch = buildPrefixLmBatch(ref.examples, P, model.config.eosTokenId, 0);
  const L = batch.textIds[0].length;
  const prefix = tf.variable(tf.tensor3d(ref.prefix, [B, P, C]), true);
  const vars = [prefix, ...(adapter ? adapter.variables() : [])];
  const { value, grads } = tf.variableGrads(() => {
    const inputs = tf.concat([prefix, model.embedTokens(batch.textIds)], 1);
    const { hidden } = model.forward(inputs, { attentionMask: batch.attentionMask });
    return weightedCrossEntropy(model.lmHead(tf.reshape(tf.slice(hidden, [0, P - 1, 0], [B, L, C]), [-1, C])), batch.targets, batch.lossWeights);
  }, vars);
  const out = { loss: (await value.data())[0], grads: await Promise.all(vars.map(async (v) => grads[v.name].data())) };
  tf.dispose([value, ...Object.values(grads), prefix]);
  return out;
}

async function gpt2Gradients(backend) {
  await selectBackend(backend);
  const model = loadCausalLM(join(lmFixtures, 'gpt2-tiny'));
  const adapter = loadLora(model, join(lmFixtures, 'lora-tiny'));
  const out = await lossAndGrads(model, adapter);
  adapter.dispose();
  model.dispose();
  return out;
}

const readCase = (name) => JSON.parse(readFileSync(join(mapperFixtures, `${name}.json`), 'utf8'));
const loadCase = (name, c) => loadMapper(join(mapperFixtures, `${name}.safetensors`), { heads: c.config.heads, prefix: c.prefix, ...(c.projectionPrefix ? { projectionPrefix: c.projectionPrefix } : {}) });

async function mapperGradients(backend, name, c) {
  await selectBackend(backend);
  const mapper = loadCase(name, c);
  const x = l2Normalize(createEmbeddings(c.input.length, c.config.clapDim, Float32Array.from(c.input.flat())));
  const w = tf.tensor3d(Float32Array.from(c.gradWeights.flat()), c.outputShape);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mapper.apply(tf.tensor2d(x.data, [x.rows, x.dim])), w)), mapper.trainableVariables);
  const out = await Promise.all(mapper.trainableVariables.map(async (v) => grads[v.name].data()));
  tf.dispose([value, w, ...Object.values(grads)]);
  mapper.dispose();
  return out;
}

async function main() {
  const info = await selectBackend('webgpu');
  process.stderr.write(`parity on ${describeBackend(info)}\n`);
  const adapter = info.adapter?.description || info.adapter?.vendor;

  let model = loadCausalLM(join(lmFixtures, 'gpt2-tiny'));
  check('gpt2/logits', maxAbsDiff((await model.logits(ref.ids)).data, ref.logits), { adapter });
  const [B, P, C] = ref.prefix_shape;
  const base = await lossAndGrads(model);
  check('gpt2/prefix-lm-loss', Math.abs(base.loss - ref.prefix_lm_loss));
  const prefix = { data: new Float32Array(ref.prefix.slice(0, P * C)), shape: [P, C] };
  const input = { prefix, promptIds: ref.generation.prompt };
  checkEqual('gpt2/generate-greedy', (await generate(model, input, { maxNewTokens: 12 })).ids, ref.generation.greedy);
  checkEqual('gpt2/generate-rep2-ngram2', (await generate(model, input, { maxNewTokens: 12, repetitionPenalty: 2, noRepeatNgramSize: 2 })).ids, ref.generation.greedy_rep2_ngram2);
  model.dispose();
  model = loadCausalLM(join(lmFixtures, 'gpt2-tiny'));
  const loraAdapter = loadLora(model, join(lmFixtures, 'lora-tiny'));
  check('gpt2/lora-logits', maxAbsDiff((await model.logits(ref.ids)).data, ref.lora_logits));
  loraAdapter.dispose();
  model.dispose();
  void B;

  const cpu = await gpt2Gradients('cpu');
  const gpu = await gpt2Gradients('webgpu');
  check('gpt2/lora-loss-vs-cpu', Math.abs(gpu.loss - cpu.loss));
  check('gpt2/gradients-vs-cpu', Math.max(...gpu.grads.map((g, i) => maxAbsDiff(g, cpu.grads[i]))), { tensors: gpu.grads.length });

  for (const name of ['msclap', 'projection', 'mats']) {
    await selectBackend('webgpu');
    const c = readCase(name);
    const mapper = loadCase(name, c);
    const x = createEmbeddings(c.input.length, c.config.clapDim, Float32Array.from(c.input.flat()));
    check(`mapper/${name}/forward`, maxAbsDiff((await mapper.forward(x)).data, c.output.flat()));
    check(`mapper/${name}/forward-raw`, maxAbsDiff((await mapper.forward(x, { normalize: false, batchSize: 2 })).data, c.outputWithoutNormalisation.flat()));
    mapper.dispose();
  }
  for (const name of ['projection', 'mats']) {
    const c = readCase(name);
    const a = await mapperGradients('cpu', name, c);
    const b = await mapperGradients('webgpu', name, c);
    check(`mapper/${name}/gradients-vs-cpu`, a.length === b.length ? Math.max(...b.map((g, i) => maxAbsDiff(g, a[i]))) : Infinity, { tensors: b.length });
  }
  releaseWebGpu();
  process.stderr.write(failures ? `parity: ${failures} check(s) FAILED\n` : 'parity: all checks passed\n');
  process.exitCode = failures ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  releaseWebGpu();
  process.exit(1);
});
