/**
 * Where the `Trainer` gets its records: `InMemoryBatches` (every record and the merged embedding cache
 * in memory; the `world` preset) or `StreamingBatches` (`data.streaming: true`: records streamed from
 * the JSONL files, embeddings read part by part, bounded memory). Both draw batches of records with
 * their input embeddings, give the held-out batches, Santa's candidate texts, and a position that the
 * checkpoint stores.
 */
import { type Embeddings, Rng, selectRows } from '@mats/core';
import type { RecordStreamState } from '@mats/datasets';
import type { PreparedEmbeddings, TrainRecord, TrainingData } from './data.js';
import { uniqueIndex } from './data.js';
import { MixedSampler, type SamplerState } from './sampler.js';
import type { StreamingTrainingData } from './stream-data.js';

export interface Batch {
  records: TrainRecord[];
  /** The records' input embeddings, row k for record k (text, or clip embeddings for MATS-Audio). */
  inputs: Embeddings;
}

/** The position of a source in the checkpoint's state.json: `sampler` (in memory) or `data` (streaming). */
export type BatchSourceState = { sampler: SamplerState } | { data: RecordStreamState };

export interface BatchSource {
  readonly trainRecords: number;
  /** Held-out records scored at each validation (at most `data.validationMax`). */
  readonly validationRecords: number;
  /** Opens the source at its start, or at a position from `getState` (a checkpoint's). */
  start(state?: BatchSourceState): Promise<void>;
  next(count: number): Promise<Batch>;
  getState(): BatchSourceState;
  /** The held-out records in batches, the same ones in the same order every time. */
  validation(batchSize: number): AsyncIterable<Batch>;
  /** Text embeddings of the distinct training texts Santa's memory is built from (at most about `size`). */
  memoryTexts(size: number): Promise<Embeddings>;
  /** Up to 350 (text, clip) pairs of distinct clips for paper Figure 3. */
  figurePairs(seed: number): Promise<{ text: string; audio: string }[]>;
  /** What the run summary reports about the data beyond the counts. */
  report(): Record<string, unknown>;
  close(): Promise<void>;
}

/** All records and the merged embeddings in memory, mixed by `MixedSampler` (the world preset's path). */
export class InMemoryBatches implements BatchSource {
  private readonly sampler: MixedSampler;
  private readonly held: TrainRecord[];

  constructor(
    readonly data: TrainingData,
    readonly prepared: PreparedEmbeddings,
    seed: number,
    validationMax: number,
  ) {
    this.sampler = new MixedSampler(data.train.map((s) => s.length), data.weights, seed);
    this.held = data.validation.slice(0, validationMax);
  }

  get trainRecords(): number {
    return this.data.train.reduce((n, s) => n + s.length, 0);
  }

  get validationRecords(): number {
    return this.held.length;
  }

  async start(state?: BatchSourceState): Promise<void> {
    if (!state) return;
    if (!('sampler' in state)) throw new Error('checkpoint state: no "sampler" position (was the run trained with data.streaming: true?)');
    this.sampler.setState(state.sampler);
  }

  async next(count: number): Promise<Batch> {
    const records = this.sampler.next(count).map((d) => this.data.train[d.source][d.index]);
    return { records, inputs: this.inputsOf(records) };
  }

  getState(): BatchSourceState {
    return { sampler: this.sampler.getState() };
  }

  async *validation(batchSize: number): AsyncGenerator<Batch> {
    for (let i = 0; i < this.held.length; i += batchSize) {
      const records = this.held.slice(i, i + batchSize);
      yield { records, inputs: this.inputsOf(records) };
    }
  }

  async memoryTexts(): Promise<Embeddings> {
    const texts = uniqueIndex(this.data.train.flat().map((r) => r.text)).unique;
    return selectRows(this.prepared.textEmbeddings, texts.map((t) => this.prepared.texts.rowOf.get(t)!));
  }

  async figurePairs(seed: number): Promise<{ text: string; audio: string }[]> {
    const byClip = new Map<string, string>();
    for (const r of this.data.train.flat()) if (r.audio && !byClip.has(r.audio)) byClip.set(r.audio, r.text);
    const clips = [...byClip.keys()];
    new Rng(`${seed}/figure3`).shuffle(clips);
    return clips.slice(0, 350).map((audio) => ({ audio, text: byClip.get(audio)! }));
  }

  report(): Record<string, unknown> {
    return {};
  }

  async close(): Promise<void> {}

  private inputsOf(records: TrainRecord[]): Embeddings {
    return selectRows(this.prepared.inputs, records.map(this.prepared.inputRow));
  }
}

/** `StreamingTrainingData` behind the same interface (`data.streaming: true`). */
export class StreamingBatches implements BatchSource {
  constructor(
    readonly data: StreamingTrainingData,
    readonly encoders: NonNullable<Parameters<StreamingTrainingData['start']>[0]>,
  ) {
    data.useEncoders(encoders);
  }

  get trainRecords(): number {
    return this.data.sources.reduce((n, s) => n + s.train, 0);
  }

  get validationRecords(): number {
    return Math.min(this.data.config.data.validationMax, this.data.sources.reduce((n, s) => n + s.validation, 0));
  }

  async start(state?: BatchSourceState): Promise<void> {
    if (state && !('data' in state)) throw new Error('checkpoint state: no "data" stream position (was the run trained with data.streaming: false?)');
    await this.data.start(this.encoders, state?.data);
  }

  async next(count: number): Promise<Batch> {
    return this.data.nextBatch(count);
  }

  getState(): BatchSourceState {
    return { data: this.data.getState() };
  }

  validation(batchSize: number): AsyncIterable<Batch> {
    return this.data.validationBatches(batchSize);
  }

  async memoryTexts(size: number): Promise<Embeddings> {
    return (await this.data.sampleMemory(size)).embeddings;
  }

  figurePairs(seed: number): Promise<{ text: string; audio: string }[]> {
    return this.data.sampleClips(350, `${seed}/figure3`);
  }

  report(): Record<string, unknown> {
    return {
      skippedLines: Object.fromEntries(this.data.sources.map((s) => [s.file, s.skipped])),
      cache: this.data.cacheStats(),
    };
  }

  close(): Promise<void> {
    return this.data.close();
  }
}
