import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { Rng } from '@mats/core';
import { TINY_WORLD_LM_DIR, applyLora, generate, loadCausalLM, loadLora, mergeLora, type CausalLM } from '@mats/llm-lora';
import { exportGpt2Decoder } from './export-gpt2.js';
import { OrtDecoder, decoderShape } from './decoder.js';
import { createSession, loadOnnxRuntime } from './ort.js';
import { hostWeights } from './export-run.js';

const FIXTURES = fileURLToPath(new URL('../../../llm-lora/fixtures/', import.meta.url));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function ortDecoderFor(model: CausalLM, threads = 1): Promise<OrtDecoder> {
  const ort = await loadOnnxRuntime();
  const bytes = exportGpt2Decoder(model.config, await hostWeights(model));
  const session = await createSession(ort, bytes, { threads }, 'decoder.onnx');
  return new OrtDecoder(ort, session, decoderShape(model.config));
}

/** tfjs logits of the last position for [prefix][ids], one row. */
function tfjsLast(model: CausalLM, prefix: Float32Array | null, P: number, ids: number[]): Float32Array {
  return tf.tidy(() => {
    const parts: tf.Tensor3D[] = [];
    if (prefix && P) parts.push(tf.tensor3d(prefix, [1, P, model.config.nEmbd]));
    if (ids.length) parts.push(model.embedTokens([ids]));
    const x = parts.length > 1 ? (tf.concat(parts, 1) as tf.Tensor3D) : parts[0];
    const { hidden } = model.forward(x);
    const T = hidden.shape[1];
    return model.lmHead(tf.slice(hidden, [0, T - 1, 0], [1, 1, model.config.nEmbd])).dataSync() as Float32Array;
  });
}

describe('exported GPT-2 decoder', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the `logits` output [batch, seq, vocab] matches tfjs at every position (input_ids only), num_logits_to_keep', async () => {
    const model = loadCausalLM(FIXTURES + 'gpt2-tiny');
    const ort = await loadOnnxRuntime();
    const session = await createSession(ort, exportGpt2Decoder(model.config, await hostWeights(model)), { threads: 1 }, 'decoder.onnx');
    const ids = [[3, 1, 4, 1, 5, 9], [2, 7, 1, 8, 2, 8]];
    const { nHead: H, nEmbd: C, nLayer, vocabSize: V } = model.config;
    const feeds: Record<string, import('./ort.js').OrtTensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [2, 6]),
      inputs_embeds: new ort.Tensor('float32', new Float32Array(0), [2, 0, C]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(12).fill(1n), [2, 6]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5].map(BigInt)), [2, 6]),
      num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([0n]), [1]),
    };
    for (let i = 0; i < nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [2, H, 0, C / H]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [2, H, 0, C / H]);
    }
    const out = await session.run(feeds);
    expect(out.logits.dims).toEqual([2, 6, V]);
    expect(out['present.0.key'].dims).toEqual([2, H, 6, C / H]);
    const want = await model.logits(ids);
    expect(maxAbsDiff(out.logits.data as Float32Array, want.data)).toBeLessThan(1e-4);
    // num_logits_to_keep = 2: the last two positions only, the same values
    const two = await session.run({ ...feeds, num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([2n]), [1]) });
    expect(two.logits.dims).toEqual([2, 2, V]);
    const all = out.logits.data as Float32Array;
    expect(maxAbsDiff((two.logits.data as Float32Array).subarray(0, 2 * V), all.subarray(4 * V, 6 * V))).toBeLessThan(1e-6);
    expect(maxAbsDiff((two.logits.data as Float32Array).subarray(2 * V, 4 * V), all.subarray(10 * V, 12 * V))).toBeLessThan(1e-6);
    await session.release();
    model.dispose();
  });

  for (const name of ['gpt2-tiny', 'world']) {
    it(`matches tfjs logits within 1e-4 (${name}, LoRA merged, prefill with prefix and padded rows, cached steps, reordering)`, async () => {
      const model = loadCausalLM(name === 'world' ? TINY_WORLD_LM_DIR : FIXTURES + 'gpt2-tiny');
      const rng = new Rng(7);
      let adapter;
      if (name === 'gpt2-tiny') adapter = loadLora(model, FIXTURES + 'lora-tiny');
      else {
        adapter = applyLora(model, { r: 4, alpha: 8 }, rng);
        // B starts at zero: give it random values so the merge changes the weights.
        for (const l of adapter.layers.values()) l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.05, 'float32', 3));
      }
      mergeLora(model, adapter);
      const C = model.config.nEmbd;
      const V = model.config.vocabSize;
      const P = 3;
      const prompts = [[1, 5, 9, 2], [7], [3, 3]];
      const prefix = rng.fillNormal(new Float32Array(prompts.length * P * C), 0, 0.5) as Float32Array;
      const dec = await ortDecoderFor(model);
      const logits = await dec.start(prefix, prompts);
      let worst = 0;
      const seqs = prompts.map((p) => [...p]);
      prompts.forEach((ids, r) => {
        worst = Math.max(worst, maxAbsDiff(logits.subarray(r * V, (r + 1) * V), tfjsLast(model, prefix.subarray(r * P * C, (r + 1) * P * C), P, ids)));
      });
      // Steps: first keep rows, then reorder and drop (as beam search does).
      let rowsPrefix = [0, 1, 2];
      const plan: { tokens: number[]; parents: number[] }[] = [
        { tokens: [4, 8, 15], parents: [0, 1, 2] },
        { tokens: [16, 23, 42 % V], parents: [2, 0, 0] },
        { tokens: [11, 12], parents: [1, 2] },
      ];
      for (const { tokens, parents } of plan) {
        const out = await dec.step(tokens, parents);
        const nextSeqs = parents.map((p, r) => [...seqs[p], tokens[r]]);
        rowsPrefix = parents.map((p) => rowsPrefix[p]);
        nextSeqs.forEach((ids, r) => {
          const src = rowsPrefix[r];
          worst = Math.max(worst, maxAbsDiff(out.subarray(r * V, (r + 1) * V), tfjsLast(model, prefix.subarray(src * P * C, (src + 1) * P * C), P, ids)));
        });
        seqs.splice(0, seqs.length, ...nextSeqs);
      }
      dec.end();
      console.log(`${name}: max abs logit difference ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      // a real check, not a constant: the logits are not all equal
      expect(Math.max(...logits.subarray(0, V)) - Math.min(...logits.subarray(0, V))).toBeGreaterThan(1e-3);
      model.dispose();
    });
  }
});
