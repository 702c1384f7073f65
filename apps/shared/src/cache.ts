import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
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
  const h = createHash('sha256');
  for (const item of items) {
    h.update(item);
    h.update('\u0000');
  }
  return h.digest('hex');
}

export function cacheLayout(spec: CacheSpec): CacheLayout {
  const itemsHash = hashItems(spec.items);
  const key = createHash('sha256').update(`${spec.modelKey}\n${itemsHash}\n${spec.partSize}`).digest('hex').slice(0, 16);
  return { folder: join(spec.dir, `${spec.kind}-${key}`), parts: Math.ceil(spec.items.length / spec.partSize), itemsHash };
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
    const emb = validateEmbeddings(await embed(spec.items.slice(start, end)), { name: `embeddings of ${spec.kind} items ${start}..${end - 1}`, rows: end - start });
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
