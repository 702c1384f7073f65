import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Embeddings, Rng, createEmbeddings, hashString, selectBackend } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { type AudioClip, writeWav } from '@mats/datasets';
import { buildWordLevelTokenizer, createCausalLM, makeConfig, saveCausalLM, tokenizerFromJson } from '@mats/llm-lora';
import { type MatsConfig, resolveConfig, writeJson } from '@mats/app-shared';
import { train } from '@mats/trainer-app';
import { STUDY_ROWS, meanStd, runStudy, studyRunConfig } from './study.js';

const DIM = 16;

/** Stand-in CLAP: text from word hashes, audio from the zero-crossing rate and energy; deterministic. */
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

const SOUNDS = ['bell', 'siren', 'hum', 'beep'];

/** A tiny world on disk: 12 clips, training records with audio, the four evaluation sets and a tiny GPT-2. */
async function makeWorld(dir: string): Promise<MatsConfig> {
  mkdirSync(join(dir, 'audio'), { recursive: true });
  const records: Record<string, string>[] = [];
  const texts: string[] = ['Classify events in the audio clip.', 'Generate audio caption.', 'Select one option: Respond with exactly one of the options above.', 'is it loud?', 'yes', 'no'];
  const clips = Array.from({ length: 12 }, (_, i) => {
    const sound = SOUNDS[i % SOUNDS.length];
    const loud = i % 2 === 0;
    const caption = `a ${loud ? 'loud' : 'soft'} ${sound} sounds`;
    const samples = new Float32Array(4000);
    for (let k = 0; k < samples.length; k++) samples[k] = (loud ? 0.6 : 0.1) * Math.sin((2 * Math.PI * (200 + 150 * (i % SOUNDS.length)) * k) / 16000);
    const audio = `audio/c${i}.wav`;
    writeWav(join(dir, audio), { sampleRate: 16000, channels: [samples] });
    records.push(
      { id: `c${i}-cls`, text: caption, instruction: 'Classify events in the audio clip.', answer: sound, task: 'cls', audioType: 'sound', source: 'test', audio },
      { id: `c${i}-cap`, text: caption, instruction: 'Generate audio caption.', answer: caption, task: 'cap', audioType: 'sound', source: 'test', audio },
      { id: `c${i}-aqa`, text: caption, instruction: 'is it loud?', answer: loud ? 'yes' : 'no', task: 'aqa', audioType: 'sound', source: 'test', audio },
    );
    texts.push(caption);
    return { i, sound, loud, caption, audio };
  });
  writeFileSync(join(dir, 'train.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const evalClips = clips.slice(0, 4);
  writeJson(join(dir, 'labels.json'), SOUNDS);
  writeJson(join(dir, 'classification.json'), evalClips.map((c) => ({ id: `e${c.i}`, audio: c.audio, labels: [c.sound] })));
  writeJson(join(dir, 'captions.json'), clips.map((c) => ({ id: `e${c.i}`, audio: c.audio, captions: [c.caption, `the ${c.sound} sounds`] })));
  writeJson(join(dir, 'aqa.json'), evalClips.map((c) => ({ id: `e${c.i}`, audio: c.audio, question: 'is it loud?', answer: c.loud ? 'yes' : 'no' })));
  writeJson(
    join(dir, 'mmau.json'),
    evalClips.map((c) => ({
      id: `e${c.i}`,
      audio_id: c.audio,
      question: 'what makes the sound?',
      choices: SOUNDS,
      answer: c.sound,
      dataset: 'test',
      task: 'sound',
      split: 'test-mini',
      category: 'Perception',
      'sub-category': 'Sound Identification',
      difficulty: 'easy',
    })),
  );
  texts.push('what makes the sound?', ...SOUNDS, 'the');
  const tokJson = buildWordLevelTokenizer(texts);
  const tokenizer = tokenizerFromJson(tokJson);
  const lm = createCausalLM(makeConfig({ vocabSize: tokenizer.vocabSize, nEmbd: 16, nLayer: 1, nHead: 2, nPositions: 96, eosTokenId: tokenizer.eosId }), new Rng(1), tokenizer);
  await saveCausalLM(lm, join(dir, 'lm'), tokJson);

  const o = (path: string, raw: string) => ({ path, raw });
  return resolveConfig({
    overrides: [
      o('runsDir', join(dir, 'runs')),
      o('backend', 'wasm'),
      o('world', 'null'),
      o('clap.dir', join(dir, 'no-clap')),
      o('llm.dir', join(dir, 'lm')),
      o('data.train', JSON.stringify([{ path: join(dir, 'train.jsonl'), weight: 1, audioDir: dir }])),
      o('data.validationFraction', '0.1'),
      o('cache.dir', join(dir, 'cache')),
      o('cache.partSize', '16'),
      o('mapper.layers', '1'),
      o('mapper.prefixLength', '2'),
      o('mapper.clipLength', '2'),
      o('mapper.heads', '2'),
      o('train.steps', '50'),
      o('train.batchSize', '4'),
      o('train.warmupSteps', '1'),
      o('train.lr', '0.01'),
      o('train.logEvery', '1'),
      o('train.validateEvery', '0'),
      o('train.checkpointEvery', '1'),
      o('santa.k', '2'),
      o('santa.topL', '4'),
      o('santa.memorySize', '10'),
      o('eval.generation.maxNewTokens', '3'),
      o('eval.mmau', JSON.stringify({ data: join(dir, 'mmau.json'), audioDir: dir })),
      o('eval.classify', JSON.stringify({ data: join(dir, 'classification.json'), audioDir: dir, labels: join(dir, 'labels.json') })),
      o('eval.caption', JSON.stringify({ data: join(dir, 'captions.json'), audioDir: dir })),
      o('eval.aqa', JSON.stringify({ data: join(dir, 'aqa.json'), audioDir: dir })),
      o('study.seeds', '[0, 1]'),
      o('study.steps', '3'),
      // The configured (MATS) variance of this test, whatever the preset's.
      o('train.noiseVariance', '0.004'),
      o('study.variances', '[0.015, 0, 0.004]'),
      o('study.gapPairs', '12'),
    ],
  });
}

describe('meanStd', () => {
  it('gives the mean and the sample standard deviation (n - 1)', () => {
    // [1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, std sqrt(5 / 3).
    expect(meanStd([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(5 / 3), n: 4 });
    expect(meanStd([0.7])).toEqual({ mean: 0.7, std: null, n: 1 });
    expect(() => meanStd([])).toThrow(/no values/);
  });
});

describe('evaluator study', () => {
  it('trains and evaluates every row for 2 seeds, writes study.json / study.md / plots, resumes an interrupted run and reuses everything the second time', async () => {
    await selectBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'mats-study-'));
    const config = await makeWorld(dir);
    const clap = standInClap();
    // An interrupted training of the study (seed 1's MATS run stopped after its first step).
    const partial = await train(studyRunConfig(config, 'mats', 1), { stopAfterStep: 1, pictures: false, progress: 'silent', log: () => {}, components: { clap } });
    expect(partial).toMatchObject({ step: 1, stopped: true });

    const lines: string[] = [];
    const first = await runStudy(config, { clap, progress: 'silent', log: (l) => lines.push(l) });
    const outDir = join(dir, 'runs', 'study');
    expect(first.outDir).toBe(outDir);
    expect(lines).toContain('study: mats-s1: unfinished, resuming');
    const kinds = ['mats', 'no-noise', 'audio', 'var-0.015'];
    expect(first.trainedRuns.sort()).toEqual(kinds.flatMap((k) => [`${k}-s0`, `${k}-s1`]).sort());
    for (const k of kinds) for (const s of [0, 1]) {
      const summary = JSON.parse(readFileSync(join(outDir, 'runs', `${k}-s${s}`, 'train-summary.json'), 'utf8'));
      expect(summary).toMatchObject({ steps: 3, variant: k === 'audio' ? 'audio' : 'text' });
      const runConfig = JSON.parse(readFileSync(join(outDir, 'runs', `${k}-s${s}`, 'config.json'), 'utf8')).config;
      expect(runConfig.seed).toBe(s);
      expect(runConfig.train.noiseVariance).toBe(k === 'no-noise' ? 0 : k === 'var-0.015' ? 0.015 : 0.004);
    }

    // Files.
    const study = JSON.parse(readFileSync(join(outDir, 'study.json'), 'utf8'));
    for (const png of ['table4.png', 'variance.png', 'figure3-seed0.png']) {
      expect(readFileSync(join(outDir, png)).subarray(1, 4).toString('latin1'), png).toBe('PNG');
    }
    const md = readFileSync(join(outDir, 'study.md'), 'utf8');

    // Every Table 4 row on every task, per seed, and mean / std recomputed from the per-seed numbers.
    expect(study.table4.map((r: { key: string }) => r.key)).toEqual(STUDY_ROWS.map((r) => r.key));
    const tasks = ['mmau', 'classify', 'caption', 'aqa'];
    expect(study.settings).toMatchObject({ seeds: [0, 1], steps: 3, variances: [0, 0.004, 0.015], tasks });
    for (const row of study.table4) {
      for (const task of tasks) {
        const c = row.tasks[task];
        const [a, b] = [c.perSeed['0'], c.perSeed['1']];
        // The per-seed number is the stored evaluation of that run and method.
        const run = `${row.run}-s0`;
        const stored = JSON.parse(readFileSync(join(outDir, 'evals', run, `${task}-${row.method}.json`), 'utf8'));
        expect(stored.headline.value).toBe(a);
        expect(c.stat.mean).toBeCloseTo((a + b) / 2, 12);
        expect(c.stat.std).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
        expect(c.stat.n).toBe(2);
      }
    }
    // The spread is not trivially zero everywhere (the two seeds' runs differ).
    expect(study.table4.some((r: { tasks: Record<string, { stat: { std: number } }> }) => tasks.some((t) => r.tasks[t].stat.std > 0))).toBe(true);
    const mats = study.table4[0].tasks.mmau;
    expect(md).toContain(`${mats.stat.mean.toFixed(2)} ± ${mats.stat.std.toFixed(2)}`);
    expect(md).toContain('chance / baseline');
    expect(study.chance.mmau).toBeCloseTo(25, 10);
    // The sweep: variance 0 is the w/o GN run, the configured 0.004 the MATS run, 0.015 its own run.
    const sweep = Object.fromEntries(study.variance.map((v: { variance: number }) => [v.variance, v]));
    expect(sweep[0].run).toBe('no-noise');
    expect(sweep[0.004].run).toBe('mats');
    expect(sweep[0.015].run).toBe('var-0.015');
    for (const task of tasks) {
      expect(sweep[0].tasks[task].perSeed).toEqual(study.table4.find((r: { key: string }) => r.key === 'no-noise').tasks[task].perSeed);
      expect(sweep[0.004].tasks[task].perSeed).toEqual(study.table4[0].tasks[task].perSeed);
    }
    // The gap statistics of the (stand-in) CLAP, and the paper's statements beside them.
    expect(study.gap.stats.pairs).toBe(12);
    expect(study.gap.stats.noisyTextCosine.map((c: { variance: number }) => c.variance)).toEqual([0, 0.004, 0.015]);
    expect(md).toContain('entirely separate regions');

    // A second invocation trains nothing and evaluates nothing again.
    const mtime = statSync(join(outDir, 'runs', 'mats-s0', 'train-summary.json')).mtimeMs;
    const again: string[] = [];
    const second = await runStudy(config, { clap, progress: 'silent', log: (l) => again.push(l) });
    expect(second.trainedRuns).toEqual([]);
    expect(again.filter((l) => l.includes('reused')).length).toBe(2 * 2 * kinds.length);
    expect(again.some((l) => /\] (mmau|classify|caption|aqa):/.test(l))).toBe(false);
    expect(statSync(join(outDir, 'runs', 'mats-s0', 'train-summary.json')).mtimeMs).toBe(mtime);
    expect(JSON.parse(readFileSync(join(outDir, 'study.json'), 'utf8')).table4).toEqual(study.table4);

    // A stored config from before a field with a default existed (here train.microBatch) is still the same training.
    const storedFile = join(outDir, 'runs', 'mats-s0', 'config.json');
    const storedJson = JSON.parse(readFileSync(storedFile, 'utf8'));
    delete storedJson.config.train.microBatch;
    writeFileSync(storedFile, JSON.stringify(storedJson));
    expect((await runStudy(config, { clap, progress: 'silent', log: () => {} })).trainedRuns).toEqual([]);
    // One that does not parse is named.
    writeFileSync(storedFile, JSON.stringify({ config: { ...storedJson.config, train: { ...storedJson.config.train, lr: 'fast' } } }));
    await expect(runStudy(config, { clap, progress: 'silent', log: () => {} })).rejects.toThrow(/mats-s0\/config\.json is not a config of this version \(train\.lr: /);
    writeFileSync(storedFile, JSON.stringify(storedJson));

    // A changed training setting under the same study name is refused, naming the field, before anything is trained.
    const changed = { ...config, train: { ...config.train, lr: 0.02 } };
    await expect(runStudy(changed, { clap, progress: 'silent', log: () => {} })).rejects.toThrow(/mats-s0 was trained with a different train\.lr \(stored 0\.01, the study now asks 0\.02\)/);
  }, 600_000);
});
