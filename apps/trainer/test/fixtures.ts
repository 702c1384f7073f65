/** A tiny training setup shared by the fault-injection tests and the child process they kill. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Embeddings, Rng, createEmbeddings, hashString } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { buildWordLevelTokenizer, createCausalLM, makeConfig, tokenizerFromJson } from '@mats/llm-lora';
import { type MatsConfig, resolveConfig } from '@mats/app-shared';

/** A deterministic stand-in for the CLAP text encoder: each word adds a fixed pseudo-random vector. */
export function standInClap(dim = 16): ClapEncoder {
  const embed = async (texts: string[]): Promise<Embeddings> => {
    const e = createEmbeddings(texts.length, dim);
    texts.forEach((t, r) => {
      for (const w of t.split(/\s+/)) {
        const rng = new Rng(hashString(w));
        for (let j = 0; j < dim; j++) e.data[r * dim + j] += rng.normal();
      }
    });
    return e;
  };
  return { dim, embedText: embed, embedAudio: async () => { throw new Error('no audio in this test'); }, dispose: async () => {} };
}

const WORDS = ['a', 'dog', 'barks', 'bell', 'rings', 'loud', 'soft', 'twice', 'siren', 'wails', 'then', 'hum'];

/** Writes `dir/train.jsonl` (24 records) and returns every text, for the word-level tokenizer. */
export function makeData(dir: string): string[] {
  const rng = new Rng(7);
  const lines: string[] = [];
  const texts: string[] = [];
  for (let i = 0; i < 24; i++) {
    const text = Array.from({ length: 3 + rng.int(4) }, () => WORDS[rng.int(WORDS.length)]).join(' ');
    const task = ['cls', 'cap', 'aqa'][i % 3];
    const instruction = task === 'cls' ? 'Classify events in the audio clip.' : task === 'cap' ? 'Generate audio caption.' : 'is it loud?';
    const answer = task === 'cap' ? text : task === 'cls' ? WORDS[i % WORDS.length] : i % 2 ? 'yes' : 'no';
    lines.push(JSON.stringify({ id: `r${i}`, text, instruction, answer, task, audioType: 'sound', source: 'test' }));
    texts.push(text, instruction, answer);
  }
  writeFileSync(join(dir, 'train.jsonl'), `${lines.join('\n')}\n`);
  return texts;
}

/** The config of a tiny run: `steps` steps, a checkpoint after every step. */
export function tinyConfig(dir: string, name: string, steps: number, runsDir = join(dir, 'runs')): MatsConfig {
  const o = (path: string, raw: string) => ({ path, raw });
  return resolveConfig({
    overrides: [
      o('name', name),
      o('runsDir', runsDir),
      o('backend', 'wasm'),
      o('world', 'null'),
      o('clap.dir', join(dir, 'no-clap')),
      o('llm.dir', join(dir, 'no-llm')),
      o('data.train', JSON.stringify([{ path: join(dir, 'train.jsonl'), weight: 1, audioDir: null }])),
      o('data.validationFraction', '0.1'),
      o('cache.dir', join(dir, 'cache')),
      o('cache.partSize', '8'),
      o('mapper.layers', '1'),
      o('mapper.prefixLength', '2'),
      o('mapper.clipLength', '2'),
      o('mapper.heads', '2'),
      o('train.steps', String(steps)),
      o('train.batchSize', '4'),
      o('train.warmupSteps', '2'),
      o('train.lr', '0.01'),
      o('train.logEvery', '1'),
      o('train.validateEvery', '2'),
      o('train.checkpointEvery', '1'),
      o('train.keepCheckpoints', '2'),
      o('santa.k', '2'),
      o('santa.memorySize', '10'),
    ],
  });
}

/** A fresh tiny GPT-2 (same seed every time, so every run starts from the same frozen weights). */
export function standInLlm(texts: string[]) {
  const tokenizer = tokenizerFromJson(buildWordLevelTokenizer(texts));
  const config = makeConfig({ vocabSize: tokenizer.vocabSize, nEmbd: 16, nLayer: 1, nHead: 2, nPositions: 64, eosTokenId: tokenizer.eosId });
  return createCausalLM(config, new Rng(3), tokenizer);
}

export const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
