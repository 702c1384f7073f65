import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '@mats/core';
import { loadCausalLM, type CausalLM } from './gpt2.js';
import { bannedNgramTokens, generate } from './generate.js';

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
  it('greedy equals the PyTorch reference decoded without a cache (plain, and with penalty 2 + no-repeat-ngram 2)', () => {
    const plain = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12 });
    expect(plain.ids).toEqual(ref.generation.greedy);
    const processed = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, repetitionPenalty: 2, noRepeatNgramSize: 2 });
    expect(processed.ids).toEqual(ref.generation.greedy_rep2_ngram2);
  });

  it('greedy equals argmax decoding recomputed without the cache in tfjs', () => {
    const out = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 10 });
    const tokens: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = argmax(lastLogProbs(tokens));
      if (t === model.config.eosTokenId) break;
      tokens.push(t);
    }
    expect(out.ids).toEqual(tokens);
  });

  it('beam search with one beam equals greedy', () => {
    for (const opts of [{}, { repetitionPenalty: 2, noRepeatNgramSize: 2 }]) {
      const g = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, ...opts });
      const b = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 12, numBeams: 1, ...opts });
      expect(b.ids).toEqual(g.ids);
    }
  });

  it('beam search (4 beams) respects no-repeat-ngram 2, and its score is the sum of the tokens log-probs', () => {
    const out = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 14, numBeams: 4, noRepeatNgramSize: 2 });
    const bigrams = new Set<string>();
    for (let i = 0; i + 1 < out.ids.length; i++) {
      const key = `${out.ids[i]},${out.ids[i + 1]}`;
      expect(bigrams.has(key), key).toBe(false);
      bigrams.add(key);
    }
    const plain = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 14, numBeams: 4 });
    let sum = 0;
    plain.ids.forEach((t, i) => (sum += lastLogProbs(plain.ids.slice(0, i))[t]));
    if (plain.finished) sum += lastLogProbs(plain.ids)[model.config.eosTokenId];
    expect(plain.score!).toBeCloseTo(sum, 3);
    // The reference greedy sequence repeats bigrams (43 43 ... 72 72): the processed one must not.
    expect(bannedNgramTokens([1, 2, 3, 1, 2], 3)).toEqual(new Set([3]));
    expect(bannedNgramTokens([5, 6, 5], 2)).toEqual(new Set([6]));
    expect(bannedNgramTokens([5], 2)).toEqual(new Set());
  });

  it('stops at eos and at maxNewTokens; leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const one = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 1 });
    expect(one.ids).toEqual(ref.generation.greedy.slice(0, 1));
    expect(one.finished).toBe(false);
    // Force an immediate stop by calling the greedy first token "eos".
    const stop = generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 5, eosId: ref.generation.greedy[0] });
    expect(stop).toMatchObject({ ids: [], finished: true });
    generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 5, numBeams: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bad options and inputs are clear errors', () => {
    expect(() => generate(model, { prefix: prefix0, promptIds: prompt }, { numBeams: 0 })).toThrow(/numBeams must be a positive integer/);
    expect(() => generate(model, { prefix: prefix0, promptIds: prompt }, { maxNewTokens: 0 })).toThrow(/maxNewTokens must be a positive integer/);
    expect(() => generate(model, { prefix: { data: new Float32Array(16), shape: [1, 16] }, promptIds: [] })).toThrow(/prefix has width 16, expected n_embd 32/);
    expect(() => generate(model, { prefix: null, promptIds: [] })).toThrow(/empty input/);
  });
});
