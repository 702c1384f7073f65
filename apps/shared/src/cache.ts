import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Embeddings, concatEmbeddings, createEmbeddings, getFloatTensor, readSafetensors, validateEmbeddings, writeFileAtomic, writeSafetensors } from '@mats/core';

/**
 * A cache of embeddings for a fixed, ordered list of items (training texts, or clip paths for
 * MATS-Audio), stored as safetensors parts of `partSize` rows:
 *
 *   <cacheDir>/<key>/index.json                  what was embedded (model, item count, item hash)
 *   <cacheDir>/<key>/part-00000.safetensors      rows [0, partSize)
 *   <cacheDir>/<key>/part-00001.safetensors      rows [partSize, 2 partSize) ...
 *   <cacheDir>/<key>/embeddings.safetensors      all rows, written by the merge step
 *
 * Parts are written atomically, so an interrupted embedding resumes at the first missing part.
 * `--shard i/n` embeds only the i-th of n contiguous ranges of parts; several processes (or the pods
 * of a Kubernetes Indexed Job) each take one shard, and the merge step joins the parts.
 */

export interface CacheSpec {
  /** The cache root (config `cache.dir`). */
  dir: string;
  /** Names the embedding model and its weights, so a different model never reads stale rows. */
  modelKey: string;
  /** `text` or `audio`: part of the folder name, for people looking at the cache. */
  kind: string;
  /** The items, in order (texts, or audio paths). */
  items: string[];
  partSize: number;
}

export interface CacheLayout {
  folder: string;
  parts: number;
  itemsHash: string;
}

export function hashItems(items: string[]): string {
  const h = itemsHasher();
  for (const item of items) h.add(item);
  return h.digest();
}

/** The same hash as `hashItems`, fed one item at a time (for item lists that are streamed, not held). */
export function itemsHasher(): { add(item: string): void; digest(): string; readonly count: number } {
  const h = createHash('sha256');
  let count = 0;
  return {
    add(item: string) {
      h.update(item);
      h.update('\u0000');
      count++;
    },
    digest: () => h.digest('hex'),
    get count() {
      return count;
    },
  };
}

/**
 * The embeddings of one part as the encoder returned them: one finite row per item. A NaN or Inf
 * names the item (its text or clip), so the record to fix is found at once.
 */
function checkEmbedded(e: Embeddings, items: string[], kind: string, start: number): Embeddings {
  const name = `embeddings of ${kind} items ${start}..${start + items.length - 1}`;
  if (e.rows === items.length && e.dim > 0) {
    for (let k = 0; k < e.data.length; k++) {
      if (!Number.isFinite(e.data[k])) {
        const r = Math.floor(k / e.dim);
        throw new Error(`${name}: the ${kind} embedding of ${JSON.stringify(items[r]).slice(0, 120)} (item ${start + r}) has a non-finite value ${e.data[k]} at column ${k % e.dim}; the CLAP encoder gave NaN/Inf for it (fix or drop that record)`);
      }
    }
  }
  return validateEmbeddings(e, { name, rows: items.length });
}

export function cacheLayout(spec: CacheSpec): CacheLayout {
  return layoutOf(spec, hashItems(spec.items), spec.items.length);
}

function layoutOf(spec: { dir: string; modelKey: string; kind: string; partSize: number }, itemsHash: string, count: number): CacheLayout {
  const key = createHash('sha256').update(`${spec.modelKey}\n${itemsHash}\n${spec.partSize}`).digest('hex').slice(0, 16);
  return { folder: join(spec.dir, `${spec.kind}-${key}`), parts: Math.ceil(count / spec.partSize), itemsHash };
}

function partFile(layout: CacheLayout, part: number): string {
  return join(layout.folder, `part-${String(part).padStart(5, '0')}.safetensors`);
}

/** The parts shard `index` of `count` is responsible for: a contiguous range. */
export function shardParts(parts: number, index: number, count: number): number[] {
  const start = Math.floor((parts * index) / count);
  const end = Math.floor((parts * (index + 1)) / count);
  return Array.from({ length: end - start }, (_, k) => start + k);
}

export interface EmbedPartsOptions {
  shard?: { index: number; count: number };
  /** Called after each part is written (for progress). */
  onPart?: (done: number, total: number, rows: number) => void;
}

/**
 * Embeds the parts this process is responsible for that are not on disk yet. Returns how many parts
 * were embedded now and how many were already there.
 */
export async function embedParts(
  spec: CacheSpec,
  embed: (items: string[]) => Promise<Embeddings>,
  options: EmbedPartsOptions = {},
): Promise<{ embedded: number; skipped: number; layout: CacheLayout }> {
  const layout = cacheLayout(spec);
  mkdirSync(layout.folder, { recursive: true });
  const indexFile = join(layout.folder, 'index.json');
  if (!existsSync(indexFile)) {
    writeJsonAtomic(indexFile, { kind: spec.kind, model: spec.modelKey, items: spec.items.length, itemsHash: layout.itemsHash, partSize: spec.partSize, parts: layout.parts });
  }
  const mine = options.shard ? shardParts(layout.parts, options.shard.index, options.shard.count) : shardParts(layout.parts, 0, 1);
  let embedded = 0;
  let skipped = 0;
  for (const [k, part] of mine.entries()) {
    const file = partFile(layout, part);
    const start = part * spec.partSize;
    const end = Math.min(spec.items.length, start + spec.partSize);
    if (existsSync(file) && partIsValid(file, end - start)) {
      skipped++;
      options.onPart?.(k + 1, mine.length, 0);
      continue;
    }
    const emb = checkEmbedded(await embed(spec.items.slice(start, end)), spec.items.slice(start, end), spec.kind, start);
    writeSafetensors(file, { embeddings: { data: emb.data, shape: [emb.rows, emb.dim] } }, { start: String(start), end: String(end), itemsHash: layout.itemsHash, model: spec.modelKey });
    embedded++;
    options.onPart?.(k + 1, mine.length, end - start);
  }
  return { embedded, skipped, layout };
}

function partIsValid(file: string, rows: number): boolean {
  try {
    const t = readSafetensors(file).tensors.get('embeddings');
    return !!t && t.shape[0] === rows;
  } catch {
    return false;
  }
}

/** Which parts are still missing (empty when the cache is complete). */
export function missingParts(spec: CacheSpec): number[] {
  const layout = cacheLayout(spec);
  const missing: number[] = [];
  for (let p = 0; p < layout.parts; p++) if (!existsSync(partFile(layout, p))) missing.push(p);
  return missing;
}

/**
 * Joins the parts into `embeddings.safetensors`, checking that every part is present, belongs to
 * this item list and has the right number of rows. Returns the embeddings.
 */
export function mergeParts(spec: CacheSpec): Embeddings {
  const layout = cacheLayout(spec);
  const missing = missingParts(spec);
  if (missing.length > 0) {
    throw new Error(
      `embedding cache ${layout.folder}: ${missing.length} of ${layout.parts} parts are missing (first: part ${missing[0]}); ` +
        'run the embedding step for every shard (or without --shard) before merging',
    );
  }
  const parts: Embeddings[] = [];
  for (let p = 0; p < layout.parts; p++) {
    const file = partFile(layout, p);
    const st = readSafetensors(file);
    if (st.metadata.itemsHash !== layout.itemsHash) throw new Error(`${file}: belongs to a different item list (itemsHash differs)`);
    const t = st.tensors.get('embeddings');
    if (!t) throw new Error(`${file}: missing tensor "embeddings"`);
    const expected = Math.min(spec.items.length, (p + 1) * spec.partSize) - p * spec.partSize;
    if (t.shape.length !== 2 || t.shape[0] !== expected) throw new Error(`${file}: tensor "embeddings" has shape ${JSON.stringify(t.shape)}, expected [${expected}, dim]`);
    parts.push(createEmbeddings(t.shape[0], t.shape[1], getFloatTensor(st, 'embeddings', undefined, file)));
  }
  const all = parts.length > 0 ? concatEmbeddings(parts) : createEmbeddings(0, 1);
  writeSafetensors(join(layout.folder, 'embeddings.safetensors'), { embeddings: { data: all.data, shape: [all.rows, all.dim] } }, { itemsHash: layout.itemsHash, model: spec.modelKey });
  return all;
}

/** The merged embeddings if the merge step has run, else null. */
export function readMerged(spec: CacheSpec): Embeddings | null {
  const layout = cacheLayout(spec);
  const file = join(layout.folder, 'embeddings.safetensors');
  if (!existsSync(file)) return null;
  const st = readSafetensors(file);
  if (st.metadata.itemsHash !== layout.itemsHash) throw new Error(`${file}: belongs to a different item list (itemsHash differs); delete the folder to rebuild it`);
  const t = st.tensors.get('embeddings');
  if (!t || t.shape.length !== 2 || t.shape[0] !== spec.items.length) throw new Error(`${file}: expected tensor "embeddings" of ${spec.items.length} rows`);
  return createEmbeddings(t.shape[0], t.shape[1], getFloatTensor(st, 'embeddings', undefined, file));
}

/** Lists the part files present (for reports). */
export function listParts(spec: CacheSpec): string[] {
  const layout = cacheLayout(spec);
  if (!existsSync(layout.folder)) return [];
  return readdirSync(layout.folder).filter((f) => /^part-\d+\.safetensors$/.test(f));
}

function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

// ---------------- streamed item lists, parts read on demand ----------------

/**
 * A cache whose items are streamed (a JSONL file's records in order) rather than held: the caller
 * knows only their number and hash (`itemsHasher` over one pass). Same folder layout and part files
 * as `CacheSpec`, so shards, `--shard i/n` and resuming work the same way.
 */
export interface StreamCacheSpec {
  dir: string;
  modelKey: string;
  kind: string;
  count: number;
  itemsHash: string;
  partSize: number;
}

export function streamCacheLayout(spec: StreamCacheSpec): CacheLayout {
  return layoutOf(spec, spec.itemsHash, spec.count);
}

/**
 * Why a part file cannot be used, or null when it is sound: present, its header readable, written for
 * this item list, `embeddings` of the right rows, and the file exactly as long as the header says (a
 * truncated part is caught here). Reads only the header, so checking every part of a large cache is cheap.
 */
export function partProblem(spec: StreamCacheSpec, part: number): string | null {
  const layout = streamCacheLayout(spec);
  const file = partFile(layout, part);
  if (!existsSync(file)) return 'missing';
  const rows = Math.min(spec.count, (part + 1) * spec.partSize) - part * spec.partSize;
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8) return `truncated (${size} bytes)`;
    const n = Number(head.readBigUInt64LE(0));
    if (8 + n > size) return `truncated (header of ${n} bytes, file of ${size})`;
    const json = Buffer.alloc(n);
    readSync(fd, json, 0, n, 8);
    const header = JSON.parse(json.toString('utf8')) as Record<string, { shape?: number[]; data_offsets?: [number, number] }> & { __metadata__?: Record<string, string> };
    if (header.__metadata__?.itemsHash !== layout.itemsHash) return 'belongs to a different item list (itemsHash differs)';
    const t = header.embeddings;
    if (!t?.shape || t.shape.length !== 2 || t.shape[0] !== rows) return `tensor "embeddings" has shape ${JSON.stringify(t?.shape)}, expected [${rows}, dim]`;
    const end = Math.max(...Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => (v as { data_offsets: [number, number] }).data_offsets[1]));
    if (8 + n + end !== size) return `truncated or padded (${size} bytes, the header describes ${8 + n + end})`;
    return null;
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The path of part `part` of a streamed cache. */
export function streamPartFile(spec: StreamCacheSpec, part: number): string {
  return partFile(streamCacheLayout(spec), part);
}

function writePart(spec: StreamCacheSpec, part: number, emb: Embeddings): void {
  const start = part * spec.partSize;
  const layout = streamCacheLayout(spec);
  writeSafetensors(partFile(layout, part), { embeddings: { data: emb.data, shape: [emb.rows, emb.dim] } }, { start: String(start), end: String(start + emb.rows), itemsHash: layout.itemsHash, model: spec.modelKey });
}

/**
 * Embeds the parts of a streamed item list that this shard owns and that are missing or unsound
 * (a truncated part is re-embedded, never trusted). `items` must yield exactly `spec.count` items in
 * order; only one part's items are held at a time.
 */
export async function embedStreamParts(
  spec: StreamCacheSpec,
  items: AsyncIterable<string>,
  embed: (items: string[]) => Promise<Embeddings>,
  options: EmbedPartsOptions = {},
): Promise<{ embedded: number; skipped: number; layout: CacheLayout }> {
  const layout = streamCacheLayout(spec);
  mkdirSync(layout.folder, { recursive: true });
  const indexFile = join(layout.folder, 'index.json');
  if (!existsSync(indexFile)) writeJsonAtomic(indexFile, { kind: spec.kind, model: spec.modelKey, items: spec.count, itemsHash: layout.itemsHash, partSize: spec.partSize, parts: layout.parts });
  const mine = new Set(options.shard ? shardParts(layout.parts, options.shard.index, options.shard.count) : shardParts(layout.parts, 0, 1));
  const todo = new Set([...mine].filter((p) => partProblem(spec, p) !== null));
  let embedded = 0;
  let done = 0;
  let index = 0;
  let batch: string[] = [];
  const flush = async (part: number) => {
    if (todo.has(part)) {
      const start = part * spec.partSize;
      const emb = checkEmbedded(await embed(batch), batch, spec.kind, start);
      writePart(spec, part, emb);
      embedded++;
    }
    if (mine.has(part)) options.onPart?.(++done, mine.size, todo.has(part) ? batch.length : 0);
    batch = [];
  };
  for await (const item of items) {
    const part = Math.floor(index / spec.partSize);
    if (todo.has(part)) batch.push(item);
    index++;
    if (index % spec.partSize === 0) await flush(part);
  }
  if (index !== spec.count) throw new Error(`embedding cache ${layout.folder}: the item stream gave ${index} items, expected ${spec.count} (did the data change since it was counted?)`);
  if (index % spec.partSize !== 0) await flush(Math.floor(index / spec.partSize));
  return { embedded, skipped: mine.size - embedded, layout };
}

export interface PartCacheOptions {
  /** Parts held in memory at once (least recently used is dropped first). Default 4. */
  maxParts?: number;
  /**
   * Re-embeds part `part` (items `start`..`end - 1`) when its file is missing, truncated or otherwise
   * unsound; the new part is written in place. Without it (or when it returns null), such a part is an error.
   */
  repair?: (part: number, start: number, end: number) => Promise<Embeddings | null>;
  /** Told about each repaired part (for the log). */
  onRepair?: (file: string, problem: string) => void;
}

/** Reads rows of a streamed cache part by part, holding at most `maxParts` parts (an LRU). */
export class PartCache {
  private readonly held = new Map<number, Embeddings>();
  private readonly maxParts: number;
  readonly stats = { loads: 0, hits: 0, evictions: 0, repaired: 0 };

  constructor(
    readonly spec: StreamCacheSpec,
    private readonly options: PartCacheOptions = {},
  ) {
    this.maxParts = options.maxParts ?? 4;
    if (!Number.isInteger(this.maxParts) || this.maxParts < 1) throw new Error(`PartCache: maxParts must be a positive integer, got ${this.maxParts}`);
  }

  /** Parts in memory now. */
  get partsHeld(): number {
    return this.held.size;
  }

  async part(part: number): Promise<Embeddings> {
    const cached = this.held.get(part);
    if (cached) {
      this.stats.hits++;
      this.held.delete(part);
      this.held.set(part, cached); // most recently used goes last
      return cached;
    }
    const emb = await this.load(part);
    this.held.set(part, emb);
    this.stats.loads++;
    while (this.held.size > this.maxParts) {
      this.held.delete(this.held.keys().next().value as number);
      this.stats.evictions++;
    }
    return emb;
  }

  /** Row `index` of the item list (a copy). */
  async row(index: number): Promise<Float32Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.spec.count) throw new Error(`embedding cache: row ${index} is outside the ${this.spec.count} items`);
    const emb = await this.part(Math.floor(index / this.spec.partSize));
    const r = index % this.spec.partSize;
    return emb.data.slice(r * emb.dim, (r + 1) * emb.dim);
  }

  /** Rows `indices` as one Embeddings, in that order. */
  async rows(indices: readonly number[]): Promise<Embeddings> {
    let out: Embeddings | null = null;
    for (const [k, i] of indices.entries()) {
      const row = await this.row(i);
      out ??= createEmbeddings(indices.length, row.length);
      out.data.set(row, k * out.dim);
    }
    return out ?? createEmbeddings(0, 1);
  }

  private async load(part: number): Promise<Embeddings> {
    const file = streamPartFile(this.spec, part);
    let problem = partProblem(this.spec, part);
    if (problem === null) {
      try {
        const st = readSafetensors(file);
        const t = st.tensors.get('embeddings')!;
        return validateEmbeddings(createEmbeddings(t.shape[0], t.shape[1], getFloatTensor(st, 'embeddings', undefined, file)), { name: file, rows: t.shape[0] });
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    const start = part * this.spec.partSize;
    const end = Math.min(this.spec.count, start + this.spec.partSize);
    const repaired = this.options.repair ? await this.options.repair(part, start, end) : null;
    if (!repaired) throw new Error(`${file}: embedding cache part ${part} cannot be used (${problem}); run the embedding stage again to rebuild it`);
    const emb = validateEmbeddings(repaired, { name: `re-embedded ${this.spec.kind} items ${start}..${end - 1}`, rows: end - start });
    mkdirSync(streamCacheLayout(this.spec).folder, { recursive: true });
    writePart(this.spec, part, emb);
    this.stats.repaired++;
    this.options.onRepair?.(file, problem);
    return emb;
  }
}
