import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Embeddings, hashString } from '@mats/core';
import { readRecords } from '@mats/datasets';
import { type MatsConfig, resolvePath } from '@mats/app-shared';

/** One training example as the trainer needs it. */
export interface TrainRecord {
  id: string;
  /** What the CLAP text encoder embeds (a description of the audio). */
  text: string;
  instruction: string;
  answer: string;
  task: string;
  /** Absolute path of the clip the text describes, when the record names one (MATS-Audio, Figure 3). */
  audio: string | null;
}

export interface TrainingData {
  /** Per source, the training records. */
  train: TrainRecord[][];
  /** Held-out records for the validation loss (all sources together). */
  validation: TrainRecord[];
  weights: number[];
  files: string[];
}

/**
 * Reads every AudioTIA source of the config and holds out a deterministic validation share: a
 * record goes to validation when the hash of its clip (or, without a clip, its text) falls under
 * `validationFraction`, so all records describing one clip land on the same side.
 */
export async function loadTrainingData(config: MatsConfig, needAudio: boolean): Promise<TrainingData> {
  const train: TrainRecord[][] = [];
  const validation: TrainRecord[] = [];
  const files: string[] = [];
  const threshold = validationThreshold(config.data.validationFraction);
  for (const [s, source] of config.data.train.entries()) {
    const file = resolvePath(source.path);
    files.push(file);
    if (!existsSync(file)) throw new Error(`data.train[${s}].path: ${file} does not exist`);
    const audioBase = source.audioDir ? resolvePath(source.audioDir) : dirname(file);
    const kept: TrainRecord[] = [];
    for await (const record of readRecords(file)) {
      if (needAudio && !record.audio) throw new Error(`${file}: record "${record.id}" has no "audio" field, which the audio variant (MATS-Audio) needs`);
      const audio = record.audio ? (isAbsolute(record.audio) ? record.audio : resolve(audioBase, record.audio)) : null;
      const r: TrainRecord = { id: record.id, text: record.text, instruction: record.instruction, answer: record.answer, task: record.task, audio };
      if (isHeldOut(record, threshold)) validation.push(r);
      else kept.push(r);
    }
    if (kept.length === 0) throw new Error(`data.train[${s}]: ${file} has no training records left after holding out validation records`);
    train.push(kept);
  }
  return { train, validation, weights: config.data.train.map((s) => s.weight), files };
}

/** The hash threshold for `validationFraction` (a share of 2^32). */
export function validationThreshold(fraction: number): number {
  return Math.round(fraction * 2 ** 32);
}

/**
 * Whether a record is held out for validation: the hash of its clip (or, without a clip, its text)
 * falls under the threshold, so all records describing one clip land on the same side.
 */
export function isHeldOut(record: { audio?: string; text: string }, threshold: number): boolean {
  return hashString(`validation/${record.audio ?? record.text}`) < threshold;
}

/** Distinct values in first-seen order, and the row of each input in that list. */
export function uniqueIndex(values: string[]): { unique: string[]; rowOf: Map<string, number> } {
  const rowOf = new Map<string, number>();
  const unique: string[] = [];
  for (const v of values) {
    if (!rowOf.has(v)) {
      rowOf.set(v, unique.length);
      unique.push(v);
    }
  }
  return { unique, rowOf };
}

/** The CLAP rows the model is trained on, and the row of each record. */
export interface PreparedEmbeddings {
  /** Distinct texts of every record (training and validation), in first-seen order. */
  texts: { unique: string[]; rowOf: Map<string, number> };
  textEmbeddings: Embeddings;
  /** Text embeddings (MATS) or audio embeddings of the clips (MATS-Audio). */
  inputs: Embeddings;
  inputRow: (record: TrainRecord) => number;
}
