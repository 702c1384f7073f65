import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { TINY_WORLD_LM_DIR, loadCausalLM, loadLora, mergeLora } from '@mats/llm-lora';
import { buildMemory } from '@mats/santa';
import { MatsModel } from '../model.js';
import { worldModelSpec } from '../config.js';
import { exportCommand } from './export-cli.js';
import { askExported, loadExported } from './runtime.js';
import type { AudioClip } from '@mats/datasets';

const SPEC = worldModelSpec({
  clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR, batchSize: 16 },
  mapper: { layers: 1, prefixLength: 4, clipLength: 4, width: null, heads: 8, mlpRatio: 2, projection: false },
  lora: { rank: 4, alpha: 16, dropout: 0.1, targets: ['c_attn'] },
  maxTextTokens: 48,
  generation: { strategy: 'beam', beams: 4, maxNewTokens: 40, noRepeatNgram: 2, repetitionPenalty: 2 },
  batchSize: 8,
});

describe('mats export RUN --out DIR', () => {
  let dir: string;
  const run = () => join(dir, 'run');

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'mats-export-cli-'));
    // A run folder written by MatsModel.save, with random mapper and adapter weights (B non-zero).
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    const memory = buildMemory(await clap.embedText(['a dog barks', 'a bell rings', 'a siren wails', 'a hum']), { k: 2, variance: 0.01 });
    const model = MatsModel.create(SPEC, { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
    const rng = new Rng(5);
    for (const v of model.trainableVariables.slice(model.mapper.trainableVariables.length)) v.assign(tf.tensor(rng.fillNormal(new Float32Array(v.size), 0, 0.05) as Float32Array, v.shape));
    await model.save(run());
    await model.dispose();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the run with its adapter merged; the decoder matches tfjs with the adapter merged', async () => {
    const lines: string[] = [];
    const res = await exportCommand([run(), '--out', join(dir, 'out')], (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/checked: onnxruntime-node opens every part/);
    expect(readdirSync(res.outDir).sort()).toEqual(['clap-audio.onnx', 'clap-config.json', 'clap-text.onnx', 'config.json', 'decoder.onnx', 'mapper.onnx', 'santa.safetensors', 'tokenizer.json']);
    const model = await loadExported(res.outDir);
    expect(model.manifest.generation).toEqual({ maxNewTokens: 40, numBeams: 4, noRepeatNgramSize: 2, repetitionPenalty: 2 });
    expect(model.manifest.santa).toMatchObject({ method: 'santa', topL: 32, tau: 0.1, lambda: 0.3, queryNoise: 0, noiseVariance: 0.002, k: 2, memoryRows: 4 });
    // Reference: the same LLM with the adapter loaded from the run and merged in tfjs.
    const ref = loadCausalLM(TINY_WORLD_LM_DIR);
    mergeLora(ref, loadLora(ref, run()));
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

  it('askExported answers like MatsModel.ask on the same run (Santa, beam search from the run spec)', async () => {
    const tone = (freq: number, beeps: number): AudioClip => {
      const sr = 16000;
      const x = new Float32Array(2 * sr);
      for (let i = 0; i < x.length; i++) x[i] = Math.floor((i / sr) * beeps * 2) % 2 === 0 ? 0.5 * Math.sin((2 * Math.PI * freq * i) / sr) : 0;
      return { sampleRate: sr, channels: [x] };
    };
    const items = [
      { audio: tone(440, 2), instruction: 'Generate audio caption.' },
      { audio: tone(1200, 5), instruction: 'Classify events in the audio clip.' },
      { audio: tone(300, 1), instruction: 'how many sounds are there?' },
    ];
    const model = await MatsModel.load(run(), { backend: 'cpu', generation: { maxNewTokens: 8 } });
    const want = await model.answer(items);
    await model.dispose();
    const exported = await loadExported(join(dir, 'out'));
    const got = await askExported(exported, items, { generation: { maxNewTokens: 8 } });
    await exported.dispose();
    expect(got).toEqual(want);
    expect(want.join('').length).toBeGreaterThan(0);
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
    await expect(exportCommand([run(), '--out', join(dir, 'o5')])).rejects.toThrow(/has no santa\.safetensors/);
    expect(existsSync(join(dir, 'o5', 'config.json'))).toBe(false);
  });
});
