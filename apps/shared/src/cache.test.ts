import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbeddings } from '@mats/core';
import { PartCache, embedStreamParts, hashItems, itemsHasher, partProblem, streamPartFile, type StreamCacheSpec } from './cache.js';

const items = Array.from({ length: 23 }, (_, i) => `text ${i}`);
// A stand-in encoder: row of item "text i" is [i, i * 2, 7].
const embed = async (batch: string[]) => {
  const e = createEmbeddings(batch.length, 3);
  batch.forEach((t, r) => {
    const i = Number(t.split(' ')[1]);
    e.data.set([i, i * 2, 7], r * 3);
  });
  return e;
};
async function* stream(list: string[]) {
  for (const x of list) yield x;
}

function specOf(dir: string): StreamCacheSpec {
  const h = itemsHasher();
  for (const x of items) h.add(x);
  return { dir, modelKey: 'test', kind: 'text', count: h.count, itemsHash: h.digest(), partSize: 5 };
}

describe('streamed embedding cache', () => {
  it('the incremental hash is hashItems', () => {
    const h = itemsHasher();
    items.forEach((x) => h.add(x));
    expect(h.digest()).toBe(hashItems(items));
    expect(h.count).toBe(23);
  });

  it('embeds a stream part by part, by shard; a second pass skips sound parts', async () => {
    const spec = specOf(mkdtempSync(join(tmpdir(), 'pc-')));
    const seen: number[] = [];
    const counting = async (b: string[]) => {
      seen.push(b.length);
      return embed(b);
    };
    const shard1 = await embedStreamParts(spec, stream(items), counting, { shard: { index: 1, count: 2 } });
    expect(shard1.embedded).toBe(3); // parts 2, 3, 4 of 5
    expect(seen).toEqual([5, 5, 3]);
    expect([0, 1, 2, 3, 4].map((p) => partProblem(spec, p))).toEqual(['missing', 'missing', null, null, null]);
    const rest = await embedStreamParts(spec, stream(items), counting);
    expect(rest).toMatchObject({ embedded: 2, skipped: 3 });
    expect(seen).toEqual([5, 5, 3, 5, 5]);
    await expect(embedStreamParts(spec, stream(items.slice(1)), counting)).rejects.toThrow(/the item stream gave 22 items, expected 23/);
  });

  it('reads rows through an LRU of at most maxParts parts', async () => {
    const spec = specOf(mkdtempSync(join(tmpdir(), 'pc-')));
    await embedStreamParts(spec, stream(items), embed);
    const cache = new PartCache(spec, { maxParts: 2 });
    const order = [0, 6, 12, 1, 7, 22, 13, 2];
    let maxHeld = 0;
    for (const i of order) {
      expect(Array.from(await cache.row(i))).toEqual([i, i * 2, 7]);
      maxHeld = Math.max(maxHeld, cache.partsHeld);
    }
    expect(maxHeld).toBe(2);
    // parts 0 1 2 0 1 4 2 0: loads 0,1,2(evict 0),0(evict 1),1(evict 2),4(evict 0),2(evict 1),0(evict 4)
    expect(cache.stats).toEqual({ loads: 8, hits: 0, evictions: 6, repaired: 0 });
    const rows = await cache.rows([3, 4, 0]);
    expect(Array.from(rows.data)).toEqual([3, 6, 7, 4, 8, 7, 0, 0, 7]);
    expect(cache.stats.hits).toBe(3); // 3, 4 and 0 are all in part 0, loaded last
    await expect(cache.row(23)).rejects.toThrow('row 23 is outside the 23 items');
  });

  it('a truncated part is re-embedded, not trusted; without repair it is an error naming the file', async () => {
    const spec = specOf(mkdtempSync(join(tmpdir(), 'pc-')));
    await embedStreamParts(spec, stream(items), embed);
    const file = streamPartFile(spec, 1);
    const bytes = statSync(file).size;
    truncateSync(file, bytes - 4);
    expect(partProblem(spec, 1)).toMatch(/^truncated or padded/);
    await expect(new PartCache(spec).row(6)).rejects.toThrow(`${file}: embedding cache part 1 cannot be used (truncated or padded`);
    const repaired: string[] = [];
    const cache = new PartCache(spec, { repair: (_, start, end) => embed(items.slice(start, end)), onRepair: (f) => repaired.push(f) });
    expect(Array.from(await cache.row(6))).toEqual([6, 12, 7]);
    expect(cache.stats.repaired).toBe(1);
    expect(repaired).toEqual([file]);
    expect(partProblem(spec, 1)).toBeNull();
    expect(statSync(file).size).toBe(bytes);
    // A header cut short, and a part of another item list, are caught too.
    writeFileSync(file, readFileSync(file).subarray(0, 20));
    expect(partProblem(spec, 1)).toMatch(/^truncated \(header/);
    expect(partProblem({ ...spec, itemsHash: 'f'.repeat(64) }, 2)).toBe('missing'); // another list has its own folder
    // The embedding stage re-embeds unsound parts too.
    const again = await embedStreamParts(spec, stream(items), embed);
    expect(again.embedded).toBe(1);
  });
});
