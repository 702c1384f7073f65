import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { mmauPrompt, writeWav } from '@mats/datasets';
import { TINY_WORLD_LM_DIR, loadCausalLM } from '@mats/llm-lora';
import { MatsModel, runCli } from '@mats/model';
import { buildMemory } from '@mats/santa';
import { modelSpec, resolveConfig, writeJson } from '@mats/app-shared';
import { evaluateTarget } from './evaluate.js';

const CHOICES = [['bell', 'siren'], ['loud', 'quiet'], ['one', 'two', 'three'], ['piano', 'flute', 'hum', 'whistle']];
const QUESTIONS = ['what makes the sound?', 'how loud is the sound?', 'how many beeps are there?', 'which instrument plays?'];

describe('mats CLI vs evaluator', () => {
  it('`mats ask RUN CLIP PROMPT` prints the model_output of the evaluator predictions, item by item (20 MMAU items)', async () => {
    await selectBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'mats-cli-parity-'));
    const audioDir = join(dir, 'audio');
    mkdirSync(audioDir, { recursive: true });
    const items = Array.from({ length: 20 }, (_, i) => {
      const samples = new Float32Array(16000);
      for (let k = 0; k < samples.length; k++) samples[k] = (0.2 + 0.03 * i) * Math.sin((2 * Math.PI * (200 + 60 * i) * k) / 16000) * (Math.floor((k * (1 + (i % 3))) / 4000) % 2);
      writeWav(join(audioDir, `clip-${i}.wav`), { sampleRate: 16000, channels: [samples] });
      const choices = CHOICES[i % 4];
      return { id: `item-${i}`, audio_id: `clip-${i}.wav`, question: QUESTIONS[i % 4], choices, answer: choices[i % choices.length], task: 'sound', difficulty: 'easy', 'sub-category': 'test' };
    });
    const dataFile = join(dir, 'mmau.json');
    writeJson(dataFile, items);
    const runDir = join(dir, 'runs', 'parity');
    const config = resolveConfig({
      overrides: [
        { path: 'backend', raw: 'wasm' },
        { path: 'clap.dir', raw: TINY_CLAP_WORLD_DIR },
        { path: 'llm.dir', raw: TINY_WORLD_LM_DIR },
        { path: 'mapper.layers', raw: '1' },
        { path: 'mapper.prefixLength', raw: '4' },
        { path: 'mapper.clipLength', raw: '4' },
        { path: 'eval.run', raw: runDir },
        { path: 'eval.batchSize', raw: '8' },
        { path: 'eval.mmau.data', raw: dataFile },
        { path: 'eval.mmau.audioDir', raw: audioDir },
        { path: 'eval.generation.maxNewTokens', raw: '6' },
        { path: 'santa.k', raw: '3' },
        { path: 'santa.topL', raw: '4' },
      ],
    });
    // A run as the trainer leaves it: random mapper and adapter, a memory of the CLAP's text embeddings.
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    const memory = buildMemory(await clap.embedText(['a bell rings', 'a siren wails', 'a quiet hum', 'a loud whistle', 'a piano plays', 'two beeps', 'water drips']), { k: 3, variance: 0.004, seed: 0, maxSize: 100 });
    const model = MatsModel.create(modelSpec(config), { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
    const rng = new Rng(5);
    for (const v of model.trainableVariables) v.assign(v.add(rng.normal() * 0.01));
    await model.save(runDir);
    await model.dispose();
    writeJson(join(runDir, 'config.json'), { config });

    const { outDir } = await evaluateTarget('mmau', config, { progress: 'silent', log: () => {} });
    const predictions = JSON.parse(readFileSync(join(outDir, 'predictions.json'), 'utf8')) as { audio_id: string; question: string; choices: string[]; model_output: string }[];
    expect(predictions).toHaveLength(20);
    expect(new Set(predictions.map((p) => p.model_output)).size).toBeGreaterThan(1);
    for (const p of predictions) {
      let out = '';
      const code = await runCli(['ask', runDir, join(audioDir, p.audio_id), mmauPrompt(p.question, p.choices)], (s) => (out += s), () => {});
      expect(code).toBe(0);
      expect(out, p.audio_id).toBe(`${p.model_output}\n`);
    }
  }, 300_000);
});
