// MATS-Audio's clip embeddings at the embedding stage: files are read through the CLAP's file route,
// and a NaN / Inf / empty / unreadable clip stops the stage with the file's path and the records
// that use it (not an index into the de-duplicated clip list).
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { decodeAudioFile, encodeWav } from '@mats/datasets';
import { type MatsConfig } from '@mats/app-shared';
import { prepareEmbeddings } from './train.js';
import type { TrainRecord, TrainingData } from './data.js';
import { tinyConfig } from '../test/fixtures.js';

function record(id: string, audio: string): TrainRecord {
  return { id, text: `a sound ${id}`, instruction: 'Generate audio caption.', answer: `a sound ${id}`, task: 'cap', audio };
}

function tone(seconds: number, f: number): Float32Array {
  return Float32Array.from({ length: Math.round(16000 * seconds) }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / 16000));
}

let dir: string;
let config: MatsConfig;
const quiet = { progress: 'silent' as const, log: () => {} };

beforeAll(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'mats-audio-clips-'));
  const base = tinyConfig(dir, 'clips', 1);
  config = { ...base, train: { ...base.train, variant: 'audio' } };
  for (const [name, f] of [['a', 300], ['b', 500], ['c', 900]] as const) writeFileSync(join(dir, `${name}.wav`), encodeWav({ sampleRate: 16000, channels: [tone(1.5, f)] }));
});

describe('MATS-Audio clip embeddings', () => {
  it('are the TinyClap rows of the decoded clips, one per distinct clip', async () => {
    const paths = ['a', 'b', 'c'].map((n) => join(dir, `${n}.wav`));
    const data: TrainingData = { train: [[record('r1', paths[0]), record('r2', paths[1]), record('r3', paths[0])]], validation: [record('v1', paths[2])], weights: [1], files: ['x.jsonl'] };
    const prepared = await prepareEmbeddings({ ...config, cache: { ...config.cache, dir: join(dir, 'cache-ok') } }, data, TinyClap.load(TINY_CLAP_WORLD_DIR), quiet);
    const want = await TinyClap.load(TINY_CLAP_WORLD_DIR).embedAudio(await Promise.all(paths.map((p) => decodeAudioFile(p))));
    expect(prepared!.inputs.rows).toBe(3);
    for (const [r, p] of [[data.train[0][0], 0], [data.train[0][1], 1], [data.train[0][2], 0], [data.validation[0], 2]] as const) {
      const row = prepared!.inputRow(r);
      expect(Array.from(prepared!.inputs.data.subarray(row * 256, (row + 1) * 256))).toEqual(Array.from(want.data.subarray(p * 256, (p + 1) * 256)));
    }
  });

  it('a NaN, Inf or empty clip, or a missing file, is named by its path and the records that use it', async () => {
    const nan = tone(1, 400);
    nan[777] = Number.NaN;
    writeFileSync(join(dir, 'nan.wav'), encodeWav({ sampleRate: 16000, channels: [nan] }, { format: 'float32' }));
    const inf = tone(1, 400);
    inf[5] = Number.POSITIVE_INFINITY;
    writeFileSync(join(dir, 'inf.wav'), encodeWav({ sampleRate: 16000, channels: [inf] }, { format: 'float32' }));
    writeFileSync(join(dir, 'empty.wav'), encodeWav({ sampleRate: 16000, channels: [new Float32Array(0)] }));
    const cases: [string, string][] = [
      ['nan.wav', 'float sample 777 of channel 0 is NaN (a corrupt file)'],
      ['inf.wav', 'float sample 5 of channel 0 is Infinity (a corrupt file)'],
      ['empty.wav', 'the WAV data chunk holds no samples (an empty clip)'],
      ['missing.wav', 'cannot read audio file (ENOENT)'],
    ];
    for (const [name, why] of cases) {
      const bad = join(dir, name);
      const good = join(dir, 'a.wav');
      const data: TrainingData = { train: [[record('r1', good), record('r2', bad), record('r3', good), record('r4', bad)]], validation: [], weights: [1], files: ['x.jsonl'] };
      await expect(prepareEmbeddings({ ...config, cache: { ...config.cache, dir: join(dir, `cache-${name}`) } }, data, TinyClap.load(TINY_CLAP_WORLD_DIR), quiet)).rejects.toThrow(
        `${bad}: ${why} (the clip of records "r2", "r4")`,
      );
    }
  });
});
