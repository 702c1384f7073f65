/**
 * Answering throughput of MatsModel.ask: the same 64 items answered in batches of 32 (padded rows,
 * one KV cache, one logits download per step) and one at a time, world-preset shapes (tiny CLAP
 * embeddings given, tiny world GPT-2, 2-layer mapper with prefix 8, greedy, 32 new tokens at most).
 * Run: npx tsx packages/model/bench/model.bench.ts   (BENCH_REPEATS, default 3)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { runBenchmark } from '@mats/bench';
import { TINY_WORLD_LM_DIR, loadCausalLM } from '@mats/llm-lora';
import { buildMemory } from '@mats/santa';
import { MatsModel, worldModelSpec } from '../src/index.js';

const SPEC = worldModelSpec();

const PROMPTS = [
  'Generate audio caption.',
  'Classify events in the audio clip.',
  'which sound is heard first? Select one option: bell, siren, hum Respond with exactly one of the options above.',
  'how many beeps are there?',
];

async function main(): Promise<void> {
  const repeats = Number(process.env.BENCH_REPEATS ?? 3);
  const backend = await selectBackend('wasm');
  const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
  const captions = Array.from({ length: 200 }, (_, i) => `a ${['bell', 'siren', 'dog', 'piano', 'hum'][i % 5]} sound number ${i % 7}`);
  const memory = buildMemory(await clap.embedText(captions), { k: 20, variance: 0.004, seed: 0, maxSize: 200 });
  const created = MatsModel.create(SPEC, { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
  const dir = join(mkdtempSync(join(tmpdir(), 'mats-model-bench-')), 'run');
  await created.save(dir);
  await created.dispose();
  const model = await MatsModel.load(dir);
  const rng = new Rng(1);
  const items = Array.from({ length: 64 }, (_, i) => ({ audio: rng.fillNormal(new Float32Array(model.dim)) as Float32Array, instruction: PROMPTS[i % PROMPTS.length] }));
  const params = { backend: backend.selected, items: items.length, llm: 'tiny-gpt2-world', prefix: 8, maxNewTokens: 32, strategy: 'greedy' };
  let tokens = 0;
  const one = await runBenchmark('model/answer-batch1', async () => void (await model.ask(items, { batchSize: 1 })), { repeats, warmup: 1, itemsPerRun: items.length, params: { ...params, batchSize: 1 }, log: null });
  const many = await runBenchmark('model/answer-batch32', async () => {
    const answers = await model.ask(items, { batchSize: 32 });
    tokens = answers.reduce((n, a) => n + model.tokenizer.encode(a.answer).length, 0);
  }, { repeats, warmup: 1, itemsPerRun: items.length, params: { ...params, batchSize: 32 }, log: null });
  for (const r of [one, many]) {
    if (r === many) r.params.vsBatch1 = Number((many.value / one.value).toFixed(2));
    r.params.answerTokensPerRun = tokens;
    console.log(`${r.benchmark}: ${r.value.toFixed(2)} items/s (median of ${r.samples.length})${r === many ? `, ${r.params.vsBatch1}x batch 1` : ''}`);
    console.log(JSON.stringify(r));
  }
  await model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
