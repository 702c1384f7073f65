import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbeddings } from '@mats/core';
import { embedParts, mergeParts, missingParts, readMerged, shardParts } from './cache.js';
import { pca } from './pca.js';
import { appendMetrics, latestCheckpoint, pointLatest, readMetrics, truncateMetrics, writeCheckpoint } from './runs.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'mats-runs-'));

describe('run folder', () => {
  it('writes checkpoints atomically, keeps the newest, and finds the latest', async () => {
    const run = tmp();
    expect(latestCheckpoint(run)).toBeNull();
    for (const step of [10, 20, 30]) await writeCheckpoint(run, step, (dir) => writeFileSync(join(dir, 'w.txt'), String(step)), 2);
    const latest = latestCheckpoint(run)!;
    expect(latest.step).toBe(30);
    expect(readFileSync(join(latest.dir, 'w.txt'), 'utf8')).toBe('30');
    expect(existsSync(join(run, 'checkpoints', 'step-00000010'))).toBe(false);
    expect(existsSync(join(run, 'checkpoints', 'step-00000020'))).toBe(true);
  });

  it('a checkpoint whose writer fails is not recorded', async () => {
    const run = tmp();
    await writeCheckpoint(run, 5, (dir) => writeFileSync(join(dir, 'w.txt'), '5'), 2);
    await expect(writeCheckpoint(run, 6, () => { throw new Error('disk full'); }, 2)).rejects.toThrow('disk full');
    expect(latestCheckpoint(run)!.step).toBe(5);
  });

  it('truncates metrics logged after the checkpoint step', () => {
    const run = tmp();
    for (const step of [1, 2, 3, 4]) appendMetrics(run, { step, loss: step / 10 });
    truncateMetrics(run, 2);
    expect(readMetrics(run).map((m) => m.step)).toEqual([1, 2]);
  });

  it('points runs/latest at the run folder', () => {
    const runs = tmp();
    pointLatest(join(runs, 'a'));
    pointLatest(join(runs, 'b'));
    expect(readlinkSync(join(runs, 'latest'))).toBe('b');
  });
});

describe('embedding cache', () => {
  const items = Array.from({ length: 23 }, (_, i) => `text ${i}`);
  // A stand-in encoder: row i is [length, first char code, i-th item number].
  const embed = async (batch: string[]) => {
    const e = createEmbeddings(batch.length, 3);
    batch.forEach((t, r) => e.data.set([t.length, t.charCodeAt(0), Number(t.split(' ')[1])], r * 3));
    return e;
  };

  it('splits parts into contiguous shards that cover every part once', () => {
    const all = [0, 1, 2].flatMap((i) => shardParts(10, i, 3));
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shardParts(2, 2, 4)).toEqual([]);
  });

  it('shards embedded separately merge into the same rows as one pass, and finished parts are skipped', async () => {
    const dir = tmp();
    const spec = { dir, modelKey: 'test', kind: 'text', items, partSize: 5 };
    const first = await embedParts(spec, embed, { shard: { index: 1, count: 2 } });
    expect(first.embedded).toBe(3); // 5 parts: shard 1 of 2 is parts floor(5/2) = 2 .. 4
    expect(missingParts(spec)).toEqual([0, 1]);
    expect(() => mergeParts(spec)).toThrow(/2 of 5 parts are missing \(first: part 0\)/);
    let calls = 0;
    const counting = async (b: string[]) => {
      calls++;
      return embed(b);
    };
    const rest = await embedParts(spec, counting);
    expect(rest.skipped).toBe(3);
    expect(calls).toBe(2);
    const merged = mergeParts(spec);
    expect(merged.rows).toBe(23);
    const direct = await embed(items);
    expect(Array.from(merged.data)).toEqual(Array.from(direct.data));
    expect(readMerged(spec)!.rows).toBe(23);
    // A different item list never reads these rows.
    expect(readMerged({ ...spec, items: [...items, 'text 99'] })).toBeNull();
  });
});

describe('pca', () => {
  it('finds the axes of data spread along known directions', () => {
    // Pairs of points along (1, 1, 0), the two of each pair at z = +-0.5: the axes are (1, 1, 0)/sqrt(2)
    // and (0, 0, 1), uncorrelated by construction.
    const rows = 40;
    const e = createEmbeddings(rows, 3);
    for (let i = 0; i < rows; i++) {
      const t = Math.floor(i / 2) - 10;
      e.data.set([t, t, i % 2 === 0 ? 0.5 : -0.5], i * 3);
    }
    const { coords, explained } = pca(e, 2);
    // Centred t: values -10..9 twice, mean -0.5.
    let sumT = 0;
    for (let i = 0; i < rows; i++) sumT += (Math.floor(i / 2) - 10 + 0.5) ** 2;
    const alongLine = 2 * sumT;
    const alongZ = rows * 0.25;
    expect(explained[0]).toBeCloseTo(alongLine / (alongLine + alongZ), 9);
    expect(explained[1]).toBeCloseTo(alongZ / (alongLine + alongZ), 9);
    // Coordinates: (t + 0.5) * sqrt(2) on the first axis and z on the second, up to sign.
    const s0 = Math.sign(coords[0] / (-9.5 * Math.SQRT2));
    const s1 = Math.sign(coords[1] / 0.5);
    for (let i = 0; i < rows; i++) {
      expect(coords[2 * i]).toBeCloseTo(s0 * (Math.floor(i / 2) - 9.5) * Math.SQRT2, 9);
      expect(coords[2 * i + 1]).toBeCloseTo(s1 * (i % 2 === 0 ? 0.5 : -0.5), 9);
    }
  });
});
