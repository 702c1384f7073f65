/**
 * Pretrains the tiny GPT-2 of the synthetic world and writes it in Hugging Face layout
 * (config.json, model.safetensors, tokenizer.json) to packages/llm-lora/assets/tiny-gpt2-world/.
 *
 * Reproduce the committed asset (default world: seed 0, default size):
 *   node packages/datasets/dist/cli.js world --out /tmp/llm-lora-world --seed 0
 *   npx tsx packages/llm-lora/scripts/pretrain-world-lm.ts --world /tmp/llm-lora-world
 * Options: --out DIR  --steps N (400)  --batch N (16)  --lr X (3e-3)  --seed N (0)
 *
 * Text: pretrain captions, and for every training record its caption (`text`) and
 * `instruction answer`. Evaluation files are never read (their references must stay unseen).
 * Everything is seeded, so the same world and options give the same weights on the same backend.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, selectBackend, writeFileAtomic } from '@mats/core';
import * as tf from '@tensorflow/tfjs';
import { AdamW, buildWordLevelTokenizer, createCausalLM, languageModelLoss, learningRateAt, makeConfig, readScalar, saveCausalLM, tokenizerFromJson, trainStep } from '../src/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        throw new Error(`${path}:${i + 1}: ${(err as Error).message}`);
      }
    });
}

/** The training text of a world folder (no evaluation file is read). */
export function worldTexts(worldDir: string): string[] {
  const texts: string[] = [];
  for (const row of readJsonl(join(worldDir, 'pretrain.jsonl'))) texts.push(String(row.caption));
  for (const row of readJsonl(join(worldDir, 'train.jsonl'))) {
    texts.push(String(row.text));
    texts.push(`${row.instruction} ${row.answer}`);
  }
  return texts;
}

async function main(): Promise<void> {
  const worldDir = arg('world', '');
  if (!worldDir) throw new Error('usage: pretrain-world-lm.ts --world DIR [--out DIR] [--steps N] [--batch N] [--lr X] [--seed N]');
  const outDir = arg('out', new URL('../assets/tiny-gpt2-world/', import.meta.url).pathname);
  const steps = Number(arg('steps', '400'));
  const batchSize = Number(arg('batch', '16'));
  const peakLr = Number(arg('lr', '3e-3'));
  const seed = Number(arg('seed', '0'));
  const backend = await selectBackend('wasm');

  const manifest = JSON.parse(readFileSync(join(worldDir, 'manifest.json'), 'utf8'));
  const texts = worldTexts(worldDir);
  const tokenizerJson = buildWordLevelTokenizer(texts);
  const tokenizer = tokenizerFromJson(tokenizerJson);
  const eos = tokenizer.eosId;
  const config = makeConfig({ vocabSize: tokenizer.vocabSize, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4, eosTokenId: eos });
  const rows = texts.map((t) => [eos, ...tokenizer.encode(t), eos].slice(0, config.nPositions));
  console.log(`world ${worldDir} (seed ${manifest.seed}): ${texts.length} texts, vocabulary ${tokenizer.vocabSize}, longest ${Math.max(...rows.map((r) => r.length))} tokens; backend ${backend.selected}`);

  const rng = new Rng(seed);
  const model = createCausalLM(config, rng, tokenizer, true);
  const optimizer = new AdamW([...model.weights.values()], { weightDecay: 0.01 });
  const schedule = { peakLr, warmupSteps: Math.round(steps * 0.05), totalSteps: steps, decay: 'cosine' as const };
  let order = rng.permutation(rows.length);
  let cursor = 0;
  const history: { step: number; loss: number }[] = [];
  const started = Date.now();
  let running = 0;
  for (let step = 0; step < steps; step++) {
    if (cursor + batchSize > order.length) {
      order = rng.permutation(rows.length);
      cursor = 0;
    }
    const batch = order.slice(cursor, cursor + batchSize).map((i) => rows[i]);
    cursor += batchSize;
    const r = await trainStep(() => languageModelLoss(model, batch, tokenizer.padId), optimizer, { lr: learningRateAt(step, schedule), maxGradNorm: 1 });
    r.gradNorm?.dispose();
    const loss = await readScalar(r.loss);
    running = step === 0 ? loss : 0.9 * running + 0.1 * loss;
    if ((step + 1) % 25 === 0 || step === 0) {
      history.push({ step: step + 1, loss: Number(running.toFixed(4)) });
      const elapsed = (Date.now() - started) / 1000;
      console.log(`step ${step + 1}/${steps} loss ${running.toFixed(3)} (${(elapsed / (step + 1)).toFixed(2)} s/step, ETA ${((elapsed / (step + 1)) * (steps - step - 1)).toFixed(0)} s)`);
    }
  }
  // Held-in check: mean loss over the first 256 texts, in eval mode.
  const evalRows = rows.slice(0, 256);
  let total = 0;
  for (let i = 0; i < evalRows.length; i += 32) {
    const l = tf.tidy(() => languageModelLoss(model, evalRows.slice(i, i + 32), tokenizer.padId).dataSync()[0]);
    total += l * Math.min(32, evalRows.length - i);
  }
  const finalLoss = total / evalRows.length;
  console.log(`final loss on 256 training texts: ${finalLoss.toFixed(4)}`);
  await saveCausalLM(model, outDir, tokenizerJson);
  writeFileAtomic(
    join(outDir, 'training.json'),
    JSON.stringify(
      {
        script: 'packages/llm-lora/scripts/pretrain-world-lm.ts',
        world: { seed: manifest.seed, generator: manifest.generator, counts: manifest.counts },
        steps,
        batchSize,
        schedule,
        seed,
        backend: backend.selected,
        texts: texts.length,
        vocabSize: tokenizer.vocabSize,
        finalLoss: Number(finalLoss.toFixed(4)),
        history,
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${outDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
