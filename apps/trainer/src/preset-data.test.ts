/**
 * The `mats-gpt2` preset's data paths agree with what `mats-data convert` writes: a tiny tree in the
 * publishers' layouts under data/, converted with the commands of the README, then every training
 * record's clip (as the trainer resolves it) and every evaluation item's clip (as the evaluator
 * resolves it: `audioDir` joined with the item's `audio`) is a real file.
 * (ESC-50 is unpacked as GitHub's zip names it, ESC-50-master: the preset must not guess data set folders.)
 * Then the preset itself (streaming) trains 2 steps on that tree, with the ONNX-contract CLAP fixtures of
 * @mats/clap and a random tiny GPT-2 folder in place of msclap and GPT-2 small.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@mats/core';
import { convertDataset, writeWav } from '@mats/datasets';
import { buildWordLevelTokenizer, createCausalLM, makeConfig, saveCausalLM, tokenizerFromJson } from '@mats/llm-lora';
import { readMetrics, resolveConfig, resolvePath } from '@mats/app-shared';
import { loadTrainingData } from './data.js';
import { train } from './train.js';

const root = mkdtempSync(join(tmpdir(), 'preset-data-'));
const previousBase = process.env.MATS_BASE_DIR;

function file(rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

function clip(rel: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeWav(join(root, rel), { sampleRate: 16000, channels: [new Float32Array([0, 0.1, -0.1, 0])] });
}

/** The publishers' layouts, a few rows each. */
function buildTree(): void {
  file('data/ESC-50-master/meta/esc50.csv', 'filename,fold,target,category,esc10,src_file,take\n1-100032-A-0.wav,1,0,dog,True,100032,A\n2-109505-A-10.wav,2,10,rain,True,109505,A\n5-9032-A-0.wav,5,0,dog,True,9032,A\n');
  for (const f of ['1-100032-A-0.wav', '2-109505-A-10.wav', '5-9032-A-0.wav']) clip(`data/ESC-50-master/audio/${f}`);
  file('data/clotho/clotho_captions_development.csv', 'file_name,caption_1,caption_2,caption_3,caption_4,caption_5\nrain.wav,Rain falls.,Rain on a roof.,It rains.,Water drips.,A storm.\n');
  clip('data/clotho/development/rain.wav');
  file('data/clotho-aqa/clotho_aqa_train.csv', 'file_name,QuestionText,answer,confidence\nrain.wav,Is it raining?,yes,yes\nrain.wav,Is it raining?,yes,yes\nrain.wav,Is it raining?,yes,yes\n');
  file('data/clotho-aqa/clotho_aqa_test.csv', 'file_name,QuestionText,answer,confidence\nwind.wav,Is it windy?,yes,yes\nwind.wav,Is it windy?,yes,yes\nwind.wav,Is it windy?,no,yes\n');
  clip('data/clotho-aqa/audio_files/rain.wav');
  clip('data/clotho-aqa/audio_files/wind.wav');
  file('data/audiocaps/test.csv', 'audiocap_id,youtube_id,start_time,caption\n1,abc,30,A dog barks\n2,abc,30,A dog is barking\n');
  clip('data/audiocaps/audio/test/abc_30.wav');
  clip('data/GTZAN/genres/jazz/jazz.00000.wav');
  file('data/musiccaps/musiccaps-public.csv', `ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval\nm1,0,10,/m/0,"['piano']",A soft piano piece.,1,False,False\n`);
  clip('data/musiccaps/audio/m1.wav');
  file('data/openaqa/openaqa_5.6M.json', JSON.stringify([{ instruction: 'What do you hear?', input: '', audio_id: 'audio/x.flac', dataset: 'as', task: 'open-ended question', output: 'A dog.' }]));
  file('data/openaqa/descriptions.json', JSON.stringify({ 'audio/x.flac': 'a dog barks' }));
  clip('data/openaqa/audio/x.flac');
  file('data/MusicQA/FinetuneMusicQA.json', JSON.stringify([{ audio_name: 's.wav', conversation: [{ from: 'human', value: 'Mood?' }, { from: 'gpt', value: 'Calm.' }] }]));
  file('data/MusicQA/descriptions.json', JSON.stringify({ 's.wav': 'a calm song' }));
  clip('data/MusicQA/audios/s.wav');
}

describe('mats-gpt2 preset paths and mats-data convert', () => {
  afterAll(() => {
    if (previousBase === undefined) delete process.env.MATS_BASE_DIR;
    else process.env.MATS_BASE_DIR = previousBase;
  });

  it('the converted files are where the preset looks, and their clips resolve to real files', async () => {
    buildTree();
    const d = (p: string) => join(root, p);
    // The commands of apps/trainer/README.md, as API calls.
    const runs: Parameters<typeof convertDataset>[0][] = [
      { dataset: 'esc50', root: d('data/ESC-50-master'), split: '1,2,3,4', out: d('data/audiotia/sound-cls.jsonl') },
      { dataset: 'clotho', root: d('data/clotho'), out: d('data/audiotia/sound-cap.jsonl'), writeDescriptions: d('data/audiotia/clotho-captions.json') },
      { dataset: 'clothoaqa', root: d('data/clotho-aqa'), out: d('data/audiotia/sound-aqa.jsonl'), descriptions: d('data/audiotia/clotho-captions.json') },
      { dataset: 'gtzan', root: d('data/GTZAN'), out: d('data/audiotia/music-cls.jsonl') },
      { dataset: 'musiccaps', root: d('data/musiccaps'), split: 'train', out: d('data/audiotia/music-cap.jsonl') },
      { dataset: 'openaqa', root: d('data/openaqa'), out: d('data/audiotia/sound-open-aqa.jsonl'), descriptions: d('data/openaqa/descriptions.json') },
      { dataset: 'musicqa', root: d('data/MusicQA'), out: d('data/audiotia/music-open-aqa.jsonl'), descriptions: d('data/MusicQA/descriptions.json') },
      { dataset: 'esc50', root: d('data/ESC-50-master'), split: '5', format: 'eval', out: d('data/eval/esc50.json') },
      { dataset: 'audiocaps', root: d('data/audiocaps'), split: 'test', format: 'eval', out: d('data/eval/audiocaps-test.json') },
      { dataset: 'clothoaqa', root: d('data/clotho-aqa'), split: 'test', format: 'eval', out: d('data/eval/clothoaqa-test.json') },
    ];
    for (const r of runs) expect((await convertDataset(r)).records, r.dataset).toBeGreaterThan(0);

    process.env.MATS_BASE_DIR = root;
    const config = resolveConfig({ preset: 'mats-gpt2', overrides: [{ path: 'data.validationFraction', raw: '0' }] });
    // Training side: the trainer's own loader, with the audio requirement of MATS-Audio.
    const data = await loadTrainingData(config, true);
    expect(data.train.map((s) => s.length)).toEqual([2, 5, 1, 1, 1, 1, 1]);
    for (const r of data.train.flat()) expect(existsSync(r.audio!), `${r.id}: ${r.audio}`).toBe(true);
    expect(data.train[0].map((r) => r.audio)).toEqual([d('data/ESC-50-master/audio/1-100032-A-0.wav'), d('data/ESC-50-master/audio/2-109505-A-10.wav')]);

    // Evaluation side: the evaluator joins `audioDir` and each item's `audio`.
    for (const task of ['classify', 'caption', 'aqa'] as const) {
      const section = config.eval[task];
      const items = JSON.parse(readFileSync(resolvePath(section.data), 'utf8')) as { audio: string }[];
      expect(items.length, task).toBeGreaterThan(0);
      // convert writes eval audio relative to the eval file's folder: that is the preset's audioDir.
      expect(resolvePath(section.audioDir), task).toBe(dirname(resolvePath(section.data)));
      for (const item of items) {
        const path = isAbsolute(item.audio) ? item.audio : resolve(resolvePath(section.audioDir), item.audio);
        expect(existsSync(path), `${task}: ${path}`).toBe(true);
      }
    }
    const esc = JSON.parse(readFileSync(d('data/eval/esc50.json'), 'utf8'));
    expect(resolve(resolvePath(config.eval.classify.audioDir), esc[0].audio)).toBe(d('data/ESC-50-master/audio/5-9032-A-0.wav'));
  });

  it('the mats-gpt2 preset (streaming) trains 2 steps on the converted tree', async () => {
    // Runs after the test above, on the tree it converted.
    process.env.MATS_BASE_DIR = root;
    const jsonl = readdirSync(join(root, 'data/audiotia')).filter((f) => f.endsWith('.jsonl'));
    expect(jsonl.length).toBe(7);
    const words: string[] = [];
    for (const f of jsonl) {
      for (const line of readFileSync(join(root, 'data/audiotia', f), 'utf8').split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as { instruction: string; answer: string };
        words.push(r.instruction, r.answer);
      }
    }
    // A random GPT-2 in Hugging Face's layout (config.json, model.safetensors, tokenizer.json).
    const tokenizerJson = buildWordLevelTokenizer(words);
    const tokenizer = tokenizerFromJson(tokenizerJson);
    const lm = createCausalLM(makeConfig({ vocabSize: tokenizer.vocabSize, nEmbd: 16, nLayer: 1, nHead: 2, nPositions: 128, eosTokenId: tokenizer.eosId }), new Rng(1), tokenizer);
    await saveCausalLM(lm, join(root, 'models/gpt2'), tokenizerJson);
    const fixture = (name: string) => fileURLToPath(new URL(`../../../packages/clap/fixtures/${name}`, import.meta.url));
    const o = (path: string, raw: string) => ({ path, raw });
    const config = resolveConfig({
      preset: 'mats-gpt2',
      overrides: [
        o('clap.audioModel', fixture('tiny_audio.onnx')),
        o('clap.textModel', fixture('tiny_text.onnx')),
        o('backend', 'wasm'),
        o('data.validationFraction', '0'),
        o('train.steps', '2'),
        o('train.batchSize', '4'),
        o('train.warmupSteps', '1'),
        o('santa.k', '2'),
        o('santa.memorySize', '8'),
      ],
    });
    expect(config.data.streaming).toBe(true);
    const lines: string[] = [];
    const result = await train(config, { pictures: false, progress: 'silent', log: (l) => lines.push(l) });
    expect(result).toMatchObject({ step: 2, stopped: false });
    expect(result.runDir).toBe(join(root, 'runs', 'mats-gpt2'));
    expect(lines.find((l) => l.startsWith('data: '))).toBe('data: 12 training records from 7 source(s) (streamed), 0 held out for validation');
    const logged = readMetrics(result.runDir).filter((m) => m.loss !== undefined);
    expect(logged.map((m) => m.step)).toContain(2);
    // samples/s to 3 significant digits: a slow step is still a positive number, not 0 or 0.1.
    for (const m of logged) {
      const rate = m.samplesPerSecond as number;
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBe(Number(rate.toPrecision(3)));
    }
    const summary = JSON.parse(readFileSync(join(result.runDir, 'train-summary.json'), 'utf8'));
    expect(summary).toMatchObject({ streaming: true, trainRecords: 12, memory: { clusters: 2 } });
    expect(Number.isFinite(summary.finalLoss)).toBe(true);
  }, 300_000);
});
