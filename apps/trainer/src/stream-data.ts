/**
 * Training data that streams: the AudioTIA JSONL sources of `config.data.train` are read as streams
 * and mixed by weight (`RecordStream` of @mats/datasets: per-source shuffle buffers, an exact JSON
 * state), and the embeddings come from a per-source cache read part by part (`PartCache`: at most
 * `maxCachedParts` parts of each source in memory). Nothing holds all records or all embeddings.
 *
 * Usage (what the Trainer does):
 *
 *   const data = await StreamingTrainingData.open(config, { modelKey: clapFingerprint(config), variant });
 *   await data.embed('text', (texts) => clap.embedText(texts), { shard });   // the embedding stage (resumable, shardable)
 *   const memory = await data.sampleMemory(config.santa.memorySize);          // Santa: seeded reservoir sample
 *   await data.start({ text: embedTexts }, checkpointState?.data);             // resume from a saved state
 *   const batch = await data.nextBatch(config.train.batchSize);               // records + input embeddings
 *   checkpoint.data = data.getState();                                        // plain JSON, round-trips exactly
 *   for await (const v of data.validationBatches(batchSize)) ...              // the held-out stream
 *
 * Cache rows: each source has its own cache of its records' texts (or clips) in file order (row =
 * the record's ordinal among the file's valid lines), so a record's row is known without an index of
 * the whole data set. Repeated texts are embedded once per record (simple, and on a GPU cheap).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { type Embeddings, createEmbeddings } from '@mats/core';
import { RecordStream, reservoirSample, scanRecords, type AudioTIARecord, type RecordStreamState } from '@mats/datasets';
import { type MatsConfig, type StreamCacheSpec, PartCache, embedStreamParts, itemsHasher, resolvePath } from '@mats/app-shared';
import { type TrainRecord, isHeldOut, validationThreshold } from './data.js';

export type InputKind = 'text' | 'audio';
type Embed = (items: string[]) => Promise<Embeddings>;

export interface StreamingDataOptions {
  /** Names the embedding model, so a cache of another model is never read (the trainer's `clapFingerprint`). */
  modelKey: string;
  /** `audio` (MATS-Audio): records need an `audio` field, and batches carry the clips' embeddings. Default `text`. */
  variant?: InputKind;
  /** Records per source in the shuffle buffer (default 4096). */
  shuffleBuffer?: number;
  /** Skip malformed lines (counted per source in `sources[i].skipped`) instead of stopping at `file:line`. */
  skipBad?: boolean;
  /**
   * Cache parts of each source held in memory at once for training (default 2; the stream reads them in
   * order, so 1 is enough once running, and a second saves a reload where a part ends). The memory and
   * validation passes use LRUs of their own of the same size.
   */
  maxCachedParts?: number;
  /** Told about repaired cache parts and other things worth a log line. */
  log?: (message: string) => void;
}

export interface StreamSourceInfo {
  name: string;
  file: string;
  weight: number;
  /** Folder relative `audio` paths are resolved against. */
  audioBase: string;
  /** Valid records in the file (all rows of its caches). */
  records: number;
  train: number;
  validation: number;
  /** Malformed lines skipped in the counting pass (`skipBad`). */
  skipped: number;
  /** Cache spec per kind. */
  caches: Partial<Record<InputKind, StreamCacheSpec>>;
}

export interface TrainBatch {
  records: TrainRecord[];
  /** The input embeddings of the records, in order (text embeddings, or clip embeddings for MATS-Audio). */
  inputs: Embeddings;
  /** Where each record came from: source index and ordinal (its cache row). */
  rows: { source: number; ordinal: number }[];
}

export class StreamingTrainingData {
  private stream: RecordStream<Float32Array> | null = null;
  private validationSet: { batchSize: number; batches: TrainBatch[] } | null = null;
  private readonly caches = new Map<string, PartCache>();
  private embedders: Partial<Record<InputKind, Embed>> = {};

  private constructor(
    readonly config: MatsConfig,
    readonly options: StreamingDataOptions,
    readonly sources: StreamSourceInfo[],
    private readonly threshold: number,
  ) {}

  get variant(): InputKind {
    return this.options.variant ?? 'text';
  }

  /**
   * Checks the sources and counts them in one streaming pass each (records, training / validation
   * split, the hash of the cached items). Errors name the config field and the file.
   */
  static async open(config: MatsConfig, options: StreamingDataOptions): Promise<StreamingTrainingData> {
    const threshold = validationThreshold(config.data.validationFraction);
    const weights = config.data.train.map((s) => s.weight);
    if (!(weights.reduce((a, w) => a + w, 0) > 0)) throw new Error(`data.train: the weights (${weights.join(', ')}) must sum to more than 0`);
    const variant = options.variant ?? 'text';
    const sources: StreamSourceInfo[] = [];
    for (const [s, source] of config.data.train.entries()) {
      const file = resolvePath(source.path);
      if (!existsSync(file)) throw new Error(`data.train[${s}].path: ${file} does not exist`);
      const audioBase = source.audioDir ? resolvePath(source.audioDir) : dirname(file);
      const hashers = { text: itemsHasher(), audio: itemsHasher() };
      const info: StreamSourceInfo = { name: basename(file, '.jsonl'), file, weight: source.weight, audioBase, records: 0, train: 0, validation: 0, skipped: 0, caches: {} };
      for await (const { record } of scanRecords(file, { skipBad: options.skipBad, onSkip: () => info.skipped++ })) {
        if (variant === 'audio' && !record.audio) throw new Error(`${file}: record "${record.id}" has no "audio" field, which the audio variant (MATS-Audio) needs`);
        hashers.text.add(record.text);
        if (variant === 'audio') hashers.audio.add(audioPath(audioBase, record.audio!));
        info.records++;
        if (isHeldOut(record, threshold)) info.validation++;
        else info.train++;
      }
      if (info.train === 0) throw new Error(`data.train[${s}]: ${file} has no training records left after holding out validation records`);
      const base = { dir: resolvePath(config.cache.dir), modelKey: options.modelKey, count: info.records, partSize: config.cache.partSize };
      info.caches.text = { ...base, kind: 'text', itemsHash: hashers.text.digest() };
      if (variant === 'audio') info.caches.audio = { ...base, kind: 'audio', itemsHash: hashers.audio.digest() };
      sources.push(info);
    }
    return new StreamingTrainingData(config, options, sources, threshold);
  }

  private toTrainRecord(source: StreamSourceInfo, r: AudioTIARecord): TrainRecord {
    return { id: r.id, text: r.text, instruction: r.instruction, answer: r.answer, task: r.task, audio: r.audio ? audioPath(source.audioBase, r.audio) : null };
  }

  /** The cached items of a source, in file order (texts, or resolved clip paths). */
  private async *items(s: number, kind: InputKind): AsyncGenerator<string> {
    const source = this.sources[s];
    for await (const { record } of scanRecords(source.file, { skipBad: this.options.skipBad })) yield kind === 'text' ? record.text : audioPath(source.audioBase, record.audio!);
  }

  /**
   * The embedding stage for one kind: embeds the parts of every source's cache that are missing or
   * unsound (of this shard only, with `shard`). Resumable: finished parts are kept.
   */
  async embed(kind: InputKind, embed: Embed, options: { shard?: { index: number; count: number }; onPart?: (source: number, done: number, total: number) => void } = {}): Promise<{ embedded: number; skipped: number }> {
    let embedded = 0;
    let skipped = 0;
    for (const [s, source] of this.sources.entries()) {
      const spec = source.caches[kind];
      if (!spec) throw new Error(`no ${kind} cache: open the data with variant "${kind}"`);
      const r = await embedStreamParts(spec, this.items(s, kind), embed, { shard: options.shard, onPart: (done, total) => options.onPart?.(s, done, total) });
      embedded += r.embedded;
      skipped += r.skipped;
    }
    return { embedded, skipped };
  }

  /**
   * The part cache of a source and kind. Training reads (`train`) go through their own LRU, which the
   * stream reads sequentially (rows are attached as records enter the shuffle buffer); the passes for
   * the memory and validation (`other`) have theirs, so they never evict the training parts.
   */
  private cache(s: number, kind: InputKind, purpose: 'train' | 'other' = 'train'): PartCache {
    const key = `${kind}/${s}/${purpose}`;
    let c = this.caches.get(key);
    if (!c) {
      const spec = this.sources[s].caches[kind];
      if (!spec) throw new Error(`no ${kind} cache: open the data with variant "${kind}"`);
      c = new PartCache(spec, {
        maxParts: this.options.maxCachedParts ?? 2,
        repair: async (_part, start, end) => {
          const embed = this.embedders[kind];
          if (!embed) return null; // no encoder given to start(): an error naming the part
          const items: string[] = [];
          let i = 0;
          for await (const item of this.items(s, kind)) {
            if (i >= start && i < end) items.push(item);
            if (++i >= end) break;
          }
          return embed(items);
        },
        onRepair: (file, problem) => this.options.log?.(`embedding cache: ${file} was unusable (${problem}); re-embedded it`),
      });
      this.caches.set(key, c);
    }
    return c;
  }

  /** Embeddings of rows of several sources, in order (through the `other` caches). */
  private async gather(kind: InputKind, rows: { source: number; ordinal: number }[]): Promise<Embeddings> {
    let out: Embeddings | null = null;
    for (const [k, { source, ordinal }] of rows.entries()) {
      const row = await this.cache(source, kind, 'other').row(ordinal);
      out ??= createEmbeddings(rows.length, row.length);
      out.data.set(row, k * out.dim);
    }
    return out ?? createEmbeddings(0, 1);
  }

  /**
   * Opens the training stream (fresh, or at a state from `getState`). `embedders` re-embed a cache
   * part found unusable during training (truncated or missing); without them such a part is an error.
   */
  async start(embedders: Partial<Record<InputKind, Embed>> = {}, state?: RecordStreamState): Promise<void> {
    await this.stream?.close();
    this.embedders = embedders;
    this.stream = await RecordStream.open(
      this.sources.map((s) => ({ name: s.name, path: s.file, weight: s.weight })),
      {
        seed: `${this.config.seed}/data`,
        shuffleBuffer: this.options.shuffleBuffer ?? 4096,
        skipBad: this.options.skipBad,
        keep: (r) => !isHeldOut(r, this.threshold),
        // The input embedding is read as the record enters the shuffle buffer: in file order, part after part.
        attach: (source, _record, ordinal) => this.cache(source, this.variant).row(ordinal),
      },
      state,
    );
  }

  /** The next `count` training records of the mix and their input embeddings. */
  async nextBatch(count: number): Promise<TrainBatch> {
    if (!this.stream) throw new Error('StreamingTrainingData: call start() before nextBatch()');
    const drawn = await this.stream.take(count);
    const dim = drawn[0]?.attached.length ?? 1;
    const inputs = createEmbeddings(drawn.length, dim);
    drawn.forEach((d, k) => inputs.data.set(d.attached, k * dim));
    return { records: drawn.map((d) => this.toTrainRecord(this.sources[d.source], d.record)), inputs, rows: drawn.map((d) => ({ source: d.source, ordinal: d.ordinal })) };
  }

  /** The stream position: plain JSON, for the checkpoint. */
  getState(): RecordStreamState {
    if (!this.stream) throw new Error('StreamingTrainingData: call start() before getState()');
    return this.stream.getState();
  }

  /**
   * Santa's memory texts: a seeded reservoir sample of `size` training records over all sources (in
   * config order), their distinct texts, and the texts' embeddings. Memory: `size` records.
   */
  async sampleMemory(size: number, seed: number | string = `${this.config.seed}/santa-memory`): Promise<{ texts: string[]; embeddings: Embeddings }> {
    const self = this;
    async function* train() {
      for (const [s, source] of self.sources.entries()) {
        for await (const r of scanRecords(source.file, { skipBad: self.options.skipBad, keep: (rec) => !isHeldOut(rec, self.threshold) })) yield { text: r.record.text, source: s, ordinal: r.ordinal };
      }
    }
    const sample = await reservoirSample(train(), size, seed);
    const seen = new Set<string>();
    const picked = sample.filter((x) => !seen.has(x.text) && seen.add(x.text));
    return { texts: picked.map((x) => x.text), embeddings: await this.gather('text', picked) };
  }

  /**
   * The held-out records (at most `config.data.validationMax`, sources in config order, file order), in
   * batches. Read from the stream once, then kept (validationMax records and their embeddings).
   */
  async *validationBatches(batchSize: number): AsyncGenerator<TrainBatch> {
    if (!this.validationSet || this.validationSet.batchSize !== batchSize) {
      const batches: TrainBatch[] = [];
      for await (const b of this.readValidation(batchSize)) batches.push(b);
      this.validationSet = { batchSize, batches };
    }
    yield* this.validationSet.batches;
  }

  private async *readValidation(batchSize: number): AsyncGenerator<TrainBatch> {
    let left = this.config.data.validationMax;
    let batch: { record: TrainRecord; source: number; ordinal: number }[] = [];
    const emit = async (): Promise<TrainBatch> => {
      const rows = batch.map((b) => ({ source: b.source, ordinal: b.ordinal }));
      const out = { records: batch.map((b) => b.record), inputs: await this.gather(this.variant, rows), rows };
      batch = [];
      return out;
    };
    for (const [s, source] of this.sources.entries()) {
      for await (const r of scanRecords(source.file, { skipBad: this.options.skipBad, keep: (rec) => isHeldOut(rec, this.threshold) })) {
        if (left-- <= 0) break;
        batch.push({ record: this.toTrainRecord(source, r.record), source: s, ordinal: r.ordinal });
        if (batch.length === batchSize) yield await emit();
      }
      if (left <= 0) break;
    }
    if (batch.length > 0) yield await emit();
  }

  /** Cache parts loaded, evicted, repaired, and held now (summed over sources). */
  cacheStats(): { loads: number; hits: number; evictions: number; repaired: number; partsHeld: number } {
    const total = { loads: 0, hits: 0, evictions: 0, repaired: 0, partsHeld: 0 };
    for (const c of this.caches.values()) {
      total.loads += c.stats.loads;
      total.hits += c.stats.hits;
      total.evictions += c.stats.evictions;
      total.repaired += c.stats.repaired;
      total.partsHeld += c.partsHeld;
    }
    return total;
  }

  async close(): Promise<void> {
    await this.stream?.close();
    this.stream = null;
  }
}

function audioPath(base: string, audio: string): string {
  return isAbsolute(audio) ? audio : resolve(base, audio);
}
