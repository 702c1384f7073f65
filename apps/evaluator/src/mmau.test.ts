import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Embeddings, Rng, createEmbeddings, hashString, selectBackend } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { type AudioClip, writeWav } from '@mats/datasets';
import { applyLora, buildWordLevelTokenizer, createCausalLM, makeConfig, saveCausalLM, saveLora, tokenizerFromJson } from '@mats/llm-lora';
import { createMapper } from '@mats/mapper';
import { buildMemory, saveMemory } from '@mats/santa';
import { resolveConfig, writeJson } from '@mats/app-shared';
import { evaluateTarget } from './evaluate.js';

const DIM = 16;

/** Stand-in CLAP: text from word hashes, audio from a few signal statistics; deterministic. */
function standInClap(): ClapEncoder {
  return {
    dim: DIM,
    async embedText(texts: string[]): Promise<Embeddings> {
      const e = createEmbeddings(texts.length, DIM);
      texts.forEach((t, r) => {
        for (const w of t.split(/\s+/)) {
          const rng = new Rng(hashString(w));
          for (let j = 0; j < DIM; j++) e.data[r * DIM + j] += rng.normal();
        }
      });
      return e;
    },
    async embedAudio(clips: AudioClip[]): Promise<Embeddings> {
      const e = createEmbeddings(clips.length, DIM);
      clips.forEach((c, r) => {
        const x = c.channels[0];
        let energy = 0;
        let crossings = 0;
        for (let i = 0; i < x.length; i++) {
          energy += x[i] * x[i];
          if (i > 0 && x[i - 1] < 0 !== x[i] < 0) crossings++;
        }
        for (let j = 0; j < DIM; j++) e.data[r * DIM + j] = Math.sin(j * (1 + crossings / 1000)) + energy / x.length;
      });
      return e;
    },
    async dispose() {},
  };
}

const QUESTIONS = [
  { question: 'which sound is heard first?', choices: ['bell', 'siren', 'dog bark', 'hum'], answer: 'siren', task: 'sound', difficulty: 'medium', 'sub-category': 'Temporal Ordering' },
  { question: 'how loud is the drip?', choices: ['loud', 'quiet'], answer: 'quiet', task: 'sound', difficulty: 'easy', 'sub-category': 'Loudness Perception' },
  { question: 'which instrument plays?', choices: ['piano', 'flute', 'drum'], answer: 'flute', task: 'music', difficulty: 'hard', 'sub-category': 'Instrument Identification' },
  { question: 'how many beeps are there?', choices: ['one', 'two', 'three'], answer: 'two', task: 'sound', difficulty: 'easy', 'sub-category': 'Event Counting' },
  { question: 'is the melody rising or falling?', choices: ['rising', 'falling'], answer: 'rising', task: 'music', difficulty: 'medium', 'sub-category': 'Pitch Perception' },
  { question: 'what makes the sound?', choices: ['bell', 'siren'], answer: 'bell', task: 'sound', difficulty: 'hard', 'sub-category': 'Sound Identification' },
];

async function makeRun(dir: string) {
  const texts = QUESTIONS.flatMap((q) => [q.question, ...q.choices, 'Select one option: Respond with exactly one of the options above.']);
  const tokJson = buildWordLevelTokenizer(texts);
  const tokenizer = tokenizerFromJson(tokJson);
  const lmConfig = makeConfig({ vocabSize: tokenizer.vocabSize, nEmbd: 16, nLayer: 1, nHead: 2, nPositions: 128, eosTokenId: tokenizer.eosId });
  const lm = createCausalLM(lmConfig, new Rng(1), tokenizer);
  await saveCausalLM(lm, join(dir, 'lm'), tokJson);
  const runDir = join(dir, 'runs', 'tiny');
  mkdirSync(runDir, { recursive: true });
  await saveLora(applyLora(lm, {}, new Rng(2)), runDir);
  createMapper({ clapDim: DIM, width: 16, prefixLength: 2, clipLength: 2, layers: 1, heads: 2 }, new Rng(3)).save(join(runDir, 'mapper.safetensors'));
  const memoryRows = createEmbeddings(12, DIM, new Rng(4).fillNormal(new Float32Array(12 * DIM)) as Float32Array);
  saveMemory(join(runDir, 'santa.safetensors'), buildMemory(memoryRows, { k: 2, maxSize: 12, seed: 0 }));

  // Evaluation data in the MMAU layout: five readable clips and one file that is not audio.
  const audioDir = join(dir, 'audio');
  mkdirSync(join(audioDir, 'test-mini-audios'), { recursive: true });
  const items = QUESTIONS.map((q, i) => ({
    id: `item-${i}`,
    audio_id: `./test-mini-audios/item-${i}.wav`,
    question: q.question,
    choices: q.choices,
    answer: q.answer,
    dataset: 'test',
    task: q.task,
    split: 'test-mini',
    category: 'Reasoning',
    'sub-category': q['sub-category'],
    difficulty: q.difficulty,
  }));
  items.forEach((item, i) => {
    const path = join(audioDir, item.audio_id);
    if (i === 2) {
      writeFileSync(path, 'this is not a wav file');
      return;
    }
    const samples = new Float32Array(8000);
    for (let k = 0; k < samples.length; k++) samples[k] = 0.3 * Math.sin((2 * Math.PI * (220 + 110 * i) * k) / 16000);
    writeWav(path, { sampleRate: 16000, channels: [samples] });
  });
  const dataFile = join(dir, 'mmau.json');
  writeJson(dataFile, items);
  const config = resolveConfig({
    overrides: [
      { path: 'backend', raw: 'wasm' },
      { path: 'llm.dir', raw: join(dir, 'lm') },
      { path: 'eval.run', raw: runDir },
      { path: 'eval.mmau.data', raw: dataFile },
      { path: 'eval.mmau.audioDir', raw: audioDir },
      { path: 'eval.generation.maxNewTokens', raw: '4' },
      { path: 'santa.k', raw: '2' },
      { path: 'santa.topL', raw: '4' },
    ],
  });
  writeJson(join(runDir, 'config.json'), { config });
  return { config, items, runDir };
}

describe('evaluator mmau', () => {
  it('writes the benchmark JSON with model_output added, scored identically by mats-bench mmau; an unreadable clip is counted', async () => {
    await selectBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'mats-eval-'));
    const { config, items } = await makeRun(dir);
    const { outDir, outcome } = await evaluateTarget('mmau', config, { clap: standInClap(), progress: 'silent', log: () => {} });

    const predictions = JSON.parse(readFileSync(join(outDir, 'predictions.json'), 'utf8')) as Record<string, unknown>[];
    expect(predictions).toHaveLength(items.length);
    predictions.forEach((p, i) => {
      // Exactly the benchmark item plus model_output, every original value unchanged.
      expect(Object.keys(p).sort()).toEqual([...Object.keys(items[i]), 'model_output'].sort());
      const { model_output, ...rest } = p;
      expect(rest).toEqual(items[i]);
      expect(typeof model_output).toBe('string');
      // The fields MMAU's evaluation.py reads, with values its tables have keys for.
      expect(['sound', 'music', 'speech']).toContain(p.task);
      expect(['easy', 'medium', 'hard']).toContain(p.difficulty);
      expect(typeof p.answer).toBe('string');
      expect(Array.isArray(p.choices)).toBe(true);
      expect(typeof p['sub-category']).toBe('string');
    });

    // The unreadable clip: reported with its file and error, answered '' (wrong), still counted.
    expect(predictions[2].model_output).toBe('');
    const failures = JSON.parse(readFileSync(join(outDir, 'failures.json'), 'utf8'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ id: 'item-2', audio: join(dir, 'audio', 'test-mini-audios', 'item-2.wav') });
    const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    expect(report.failed).toBe(1);
    expect(report.metrics.total.count).toBe(items.length);
    expect(outcome.headline.chance).toBeCloseTo((100 * (1 / 4 + 1 / 2 + 1 / 3 + 1 / 3 + 1 / 2 + 1 / 2)) / 6, 10);

    // The official-format file through the mats-bench CLI gives the numbers of our report.
    const require = createRequire(import.meta.url);
    const benchDir = dirname(require.resolve('@mats/bench/package.json'));
    const bin = JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8')).bin['mats-bench'];
    const cli = JSON.parse(execFileSync(process.execPath, [join(benchDir, bin), 'mmau', '--input', join(outDir, 'predictions.json'), '--json'], { encoding: 'utf8' }));
    for (const key of ['total', 'task', 'difficulty', 'sub-category']) expect(cli[key]).toEqual(report.metrics[key]);

    // With answers filled in by hand the same file scores as expected: the answer text right, a
    // sentence naming two options wrong, the unreadable item wrong.
    const edited = predictions.map((p, i) => ({ ...p, model_output: i === 2 ? '' : i === 1 ? 'it is loud, not quiet' : String(p.answer) }));
    const editedFile = join(dir, 'edited.json');
    writeJson(editedFile, edited);
    const scored = JSON.parse(execFileSync(process.execPath, [join(benchDir, bin), 'mmau', '--input', editedFile, '--json'], { encoding: 'utf8' }));
    expect(scored.total).toMatchObject({ correct: 4, count: 6 });
    expect(scored.total.accuracy).toBeCloseTo((100 * 4) / 6, 10);
  }, 300_000);
});
