import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '@mats/core';
import { loadCausalLM, type CausalLM } from './gpt2.js';
import { CausalLmDecoder, bannedNgramTokens, generate, generateBatch } from './generate.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));
const C = 32;
const prefix0 = { data: new Float32Array(ref.prefix.slice(0, 3 * C)), shape: [3, C] as [number, number] };
const prompt: number[] = ref.generation.prompt;

let model: CausalLM;
beforeAll(async () => {
  await selectBackend('wasm');
  model = loadCausalLM(join(fixtures, 'gpt2-tiny'));
});

/** Log-softmax of the last position, recomputing the whole sequence (no cache). */
function lastLogProbs(tokens: number[]): Float32Array {
  return tf.tidy(() => {
    const emb = tf.concat([tf.tensor3d(prefix0.data, [1, 3, C]), model.embedTokens([[...prompt, ...tokens]])], 1) as tf.Tensor3D;
    const { hidden } = model.forward(emb);
    const T = hidden.shape[1];
    return tf.logSoftmax(model.lmHead(tf.slice(hidden, [0, T - 1, 0], [1, 1, C])).reshape([-1])).dataSync() as Float32Array;
  });
}

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

describe('generation with a KV cache', () => {
  it('greedy equals the PyTorch reference decoded without a cache (plain, and with penalty 2 + no-repeat-ngram 2)', async () => {
    const plain = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12 });
    expect(plain.ids).toEqual(ref.generation.greedy);
    const processed = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, repetitionPenalty: 2, noRepeatNgramSize: 2 });
    expect(processed.ids).toEqual(ref.generation.greedy_rep2_ngram2);
  });

  it('greedy equals argmax decoding recomputed without the cache in tfjs', async () => {
    const out = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 10 });
    const tokens: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = argmax(lastLogProbs(tokens));
      if (t === model.config.eosTokenId) break;
      tokens.push(t);
    }
    expect(out.ids).toEqual(tokens);
  });

  it('beam search with one beam equals greedy', async () => {
    for (const opts of [{}, { repetitionPenalty: 2, noRepeatNgramSize: 2 }]) {
      const g = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, ...opts });
      const b = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, numBeams: 1, ...opts });
      expect(b.ids).toEqual(g.ids);
    }
  });

  it('beam search (4 beams) respects no-repeat-ngram 2, and its score is the sum of the tokens log-probs', async () => {
    const out = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 14, numBeams: 4, noRepeatNgramSize: 2 });
    const bigrams = new Set<string>();
    for (let i = 0; i + 1 < out.ids.length; i++) {
      const key = `${out.ids[i]},${out.ids[i + 1]}`;
      expect(bigrams.has(key), key).toBe(false);
      bigrams.add(key);
    }
    const plain = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 14, numBeams: 4 });
    let sum = 0;
    plain.ids.forEach((t, i) => (sum += lastLogProbs(plain.ids.slice(0, i))[t]));
    if (plain.finished) sum += lastLogProbs(plain.ids)[model.config.eosTokenId];
    expect(plain.score!).toBeCloseTo(sum, 3);
    // The reference greedy sequence repeats bigrams (43 43 ... 72 72): the processed one must not.
    expect(bannedNgramTokens([1, 2, 3, 1, 2], 3)).toEqual(new Set([3]));
    expect(bannedNgramTokens([5, 6, 5], 2)).toEqual(new Set([6]));
    expect(bannedNgramTokens([5], 2)).toEqual(new Set());
  });

  it('stops at eos and at maxNewTokens; leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const one = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 1 });
    expect(one.ids).toEqual(ref.generation.greedy.slice(0, 1));
    expect(one.finished).toBe(false);
    // Force an immediate stop by calling the greedy first token "eos".
    const stop = await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 5, eosId: ref.generation.greedy[0] });
    expect(stop).toMatchObject({ ids: [], finished: true });
    await generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 5, numBeams: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bad options and inputs are clear errors', async () => {
    await expect(generate(model, { prefix: prefix0, promptIds: prompt }, { numBeams: 0 })).rejects.toThrow(/numBeams must be a positive integer/);
    await expect(generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens must be a positive integer/);
    await expect(generate(model, { prefix: { data: new Float32Array(16), shape: [1, 16] }, promptIds: [] })).rejects.toThrow(/prefix has width 16, expected n_embd 32/);
    await expect(generate(model, { prefix: null, promptIds: [] })).rejects.toThrow(/empty input/);
  });
});

describe('batched generation', () => {
  // Rows with different prefixes and prompts of different lengths (1 to 6 tokens).
  const rows = 5;
  const prefixes = Array.from({ length: rows }, (_, r) => ref.prefix.slice(((r * 2) % 4) * C, ((r * 2) % 4) * C + 3 * C).map((v: number, i: number) => v * (1 + 0.1 * r) + (i % 3) * 0.01 * r));
  const prompts = Array.from({ length: rows }, (_, r) => Array.from({ length: 1 + ((r * 2) % 6) }, (_, i) => (prompt[i % prompt.length] + r * 7 + i * 5) % 100));

  async function batched(opts: Record<string, number>) {
    const prefix = tf.tensor3d(prefixes.flat(), [rows, 3, C]);
    try {
      return await generateBatch(new CausalLmDecoder(model), prefix, prompts, { maxNewTokens: 12, eosId: model.config.eosTokenId, ...opts });
    } finally {
      prefix.dispose();
    }
  }

  it('greedy and beam search over padded rows equal one-at-a-time generation, row by row', async () => {
    for (const opts of [{}, { repetitionPenalty: 2, noRepeatNgramSize: 2 }, { numBeams: 3 }, { numBeams: 4, noRepeatNgramSize: 2 }]) {
      const before = tf.memory().numTensors;
      const all = await batched(opts);
      expect(tf.memory().numTensors).toBe(before);
      for (let r = 0; r < rows; r++) {
        const one = await generate(model, { prefix: { data: new Float32Array(prefixes[r]), shape: [3, C] }, promptIds: prompts[r] }, { maxNewTokens: 12, ...opts });
        expect(all[r].ids, `row ${r} ${JSON.stringify(opts)}`).toEqual(one.ids);
        expect(all[r].finished).toBe(one.finished);
        if (one.score !== null) expect(all[r].score!).toBeCloseTo(one.score, 4);
      }
    }
  });

  it('the first logits of a padded batch equal each row computed alone (within 1e-5)', async () => {
    const decoder = new CausalLmDecoder(model);
    const prefix = tf.tensor3d(prefixes.flat(), [rows, 3, C]);
    const V = model.config.vocabSize;
    try {
      const all = await decoder.start(prefix, prompts);
      for (let r = 0; r < rows; r++) {
        const alone = tf.tidy(() => {
          const emb = tf.concat([tf.tensor3d(prefixes[r], [1, 3, C]), model.embedTokens([prompts[r]])], 1) as tf.Tensor3D;
          const { hidden } = model.forward(emb);
          const T = hidden.shape[1];
          return model.lmHead(tf.slice(hidden, [0, T - 1, 0], [1, 1, C])).dataSync() as Float32Array;
        });
        let maxDiff = 0;
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(all[r * V + v] - alone[v]));
        expect(maxDiff).toBeLessThan(1e-5);
      }
    } finally {
      decoder.end();
      prefix.dispose();
    }
  });

  it('a decoder refuses a step before start and mismatched rows', async () => {
    const decoder = new CausalLmDecoder(model);
    await expect(decoder.step([1], [0])).rejects.toThrow(/step\(\) before start/);
    const prefix = tf.tensor3d(prefixes.flat(), [rows, 3, C]);
    await expect(decoder.start(prefix, prompts.slice(0, 2))).rejects.toThrow(/prefix has 5 rows but 2 prompts/);
    prefix.dispose();
    decoder.end();
  });
});
