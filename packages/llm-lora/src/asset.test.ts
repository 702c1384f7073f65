import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '@mats/core';
import { loadCausalLM } from './gpt2.js';
import { generate } from './generate.js';

const assetDir = new URL('../assets/tiny-gpt2-world/', import.meta.url).pathname;

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('the committed tiny world LM (scripts/pretrain-world-lm.ts)', () => {
  it('is a small HF-layout GPT-2 with a WordLevel tokenizer.json that covers the instructions', () => {
    expect(statSync(join(assetDir, 'model.safetensors')).size).toBeLessThan(6e6);
    const model = loadCausalLM(assetDir);
    expect(model.config).toMatchObject({ nEmbd: 128, nLayer: 4, nHead: 4, nPositions: 256 });
    const tok = model.tokenizer!;
    expect(tok.kind).toBe('tokenizer.json');
    const unk = tok.encode('<unk>')[0];
    for (const text of ['Classify events in the audio clip.', 'Generate audio caption.', 'Generate music caption.']) {
      expect(tok.encode(text)).not.toContain(unk);
    }
    const training = JSON.parse(readFileSync(join(assetDir, 'training.json'), 'utf8'));
    expect(training.world.seed).toBe(0);
    model.dispose();
  });

  it('has learned the world text: a greedy caption is several in-vocabulary words ending at eos', async () => {
    const model = loadCausalLM(assetDir);
    const tok = model.tokenizer!;
    const out = await generate(model, { prefix: null, promptIds: [tok.eosId, ...tok.encode('Generate audio caption.')] }, { maxNewTokens: 40 });
    expect(out.finished).toBe(true);
    expect(out.ids.length).toBeGreaterThan(4);
    expect(out.ids).not.toContain(tok.encode('<unk>')[0]);
    model.dispose();
  });
});
