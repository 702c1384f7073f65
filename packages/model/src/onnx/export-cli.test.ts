import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { TINY_WORLD_LM_DIR, applyLora, loadCausalLM, loadLora, mergeLora, saveLora } from '@mats/llm-lora';
import { createMapper } from '@mats/mapper';
import { buildMemory, saveMemory } from '@mats/santa';
import { exportCommand } from './export-cli.js';
import { loadExported } from './runtime.js';

describe('mats export RUN --out DIR', () => {
  let dir: string;
  const run = () => join(dir, 'run');

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'mats-export-cli-'));
    mkdirSync(run());
    // A run folder as the trainer writes it, with a random adapter and mapper.
    const rng = new Rng(5);
    const llm = loadCausalLM(TINY_WORLD_LM_DIR);
    const lora = applyLora(llm, { r: 8, alpha: 32 }, rng);
    for (const l of lora.layers.values()) l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.02, 'float32', 9));
    await saveLora(llm, run());
    llm.dispose();
    const mapper = createMapper({ clapDim: 256, width: 128, prefixLength: 4, clipLength: 4, layers: 1, heads: 8 }, rng);
    mapper.save(join(run(), 'mapper.safetensors'));
    mapper.dispose();
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    saveMemory(join(run(), 'santa.safetensors'), buildMemory(await clap.embedText(['a dog barks', 'a bell rings', 'a siren wails', 'a hum']), { k: 2, variance: 0.01 }));
    await clap.dispose();
    const config = {
      llm: { dir: TINY_WORLD_LM_DIR },
      clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR, batchSize: 8 },
      train: { noiseVariance: 0.004 },
      santa: { topL: 32, tau: 0.1, lambda: 0.3, normalizeAudio: true, padClusters: false, queryNoise: false },
      eval: { method: 'santa', generation: { strategy: 'beam', beams: 4, maxNewTokens: 40, noRepeatNgram: 2, repetitionPenalty: 2 } },
    };
    writeFileSync(join(run(), 'config.json'), JSON.stringify({ config }));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the run with its adapter merged; the decoder matches tfjs with the adapter merged', async () => {
    const lines: string[] = [];
    const res = await exportCommand([run(), '--out', join(dir, 'out')], (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/checked: onnxruntime-node opens every part/);
    expect(readdirSync(res.outDir).sort()).toEqual(['clap-audio.onnx', 'clap-config.json', 'clap-text.onnx', 'config.json', 'decoder.onnx', 'mapper.onnx', 'santa.safetensors', 'tokenizer.json']);
    const model = await loadExported(res.outDir);
    expect(model.manifest.generation).toEqual({ maxNewTokens: 40, numBeams: 4, noRepeatNgramSize: 2, repetitionPenalty: 2 });
    expect(model.manifest.santa).toMatchObject({ method: 'santa', topL: 32, tau: 0.1, lambda: 0.3, noiseVariance: 0.004, k: 2, memoryRows: 4 });
    // Reference: the same LLM with the adapter loaded from the run and merged in tfjs.
    const ref = loadCausalLM(TINY_WORLD_LM_DIR);
    loadLora(ref, run());
    mergeLora(ref);
    const ids = [[5, 17, 3, 9, 22]];
    const want = await ref.logits(ids);
    const dec = model.llm.decoder();
    const first = await dec.start(null, [ids[0].slice(0, 3)]);
    const s1 = await dec.step([ids[0][3]], [0]);
    const s2 = await dec.step([ids[0][4]], [0]);
    dec.end();
    const V = model.manifest.llm.vocabSize;
    let worst = 0;
    [first, s1, s2].forEach((row, k) => {
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(row[v] - want.data[(2 + k) * V + v]));
    });
    expect(worst).toBeLessThan(1e-4);
    // and the adapter did change the model (the test would not notice a forgotten merge otherwise)
    const base = loadCausalLM(TINY_WORLD_LM_DIR);
    const plain = await base.logits(ids);
    let moved = 0;
    for (let i = 0; i < plain.data.length; i++) moved = Math.max(moved, Math.abs(plain.data[i] - want.data[i]));
    expect(moved).toBeGreaterThan(1e-3);
    ref.dispose();
    base.dispose();
    await model.dispose();
  });

  it('refuses a non-empty output folder without --overwrite, and bad arguments', async () => {
    mkdirSync(join(dir, 'busy'));
    writeFileSync(join(dir, 'busy', 'x'), 'x');
    await expect(exportCommand([run(), '--out', join(dir, 'busy')])).rejects.toThrow(/busy is not empty \(pass --overwrite/);
    await expect(exportCommand([run()])).rejects.toThrow(/missing --out DIR/);
    await expect(exportCommand(['--out', join(dir, 'o2')])).rejects.toThrow(/missing the run folder/);
    await expect(exportCommand([run(), '--out', join(dir, 'o3'), '--fast'])).rejects.toThrow(/unknown option --fast/);
    await expect(exportCommand([join(dir, 'nope'), '--out', join(dir, 'o4')])).rejects.toThrow(/run folder .*nope does not exist/);
    rmSync(join(run(), 'santa.safetensors'));
    await expect(exportCommand([run(), '--out', join(dir, 'o5')])).rejects.toThrow(/has no santa\.safetensors \(is the training finished\?\)/);
    expect(existsSync(join(dir, 'o5', 'config.json'))).toBe(false);
  });
});
