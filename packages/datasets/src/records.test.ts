import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@mats/core';
import { readRecords, readJsonlLines, writeJsonl, JsonlWriter } from './jsonl.js';
import { shuffleBuffer, mixSources } from './mixing.js';
import { classificationInstruction, captionInstruction, mmauPrompt, classificationAnswer } from './templates.js';
import type { AudioTIARecord } from './records.js';

const BAD = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'datasets', 'bad');

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

const rec = (i: number, source = 's'): AudioTIARecord => ({ id: `${source}${i}`, text: `t${i}`, instruction: 'Generate audio caption.', answer: `a${i}`, task: 'cap', audioType: 'sound', source });

describe('templates (paper Table S8 and 4.2.2)', () => {
  it('exact strings', () => {
    expect(classificationInstruction()).toBe('Classify events in the audio clip.');
    expect(captionInstruction('sound')).toBe('Generate audio caption.');
    expect(captionInstruction('music')).toBe('Generate music caption.');
    expect(classificationAnswer(['dog', 'siren'])).toBe('dog, siren');
    expect(mmauPrompt('Which sound is heard?', ['Man', 'Woman', 'Child', 'Robot'])).toBe(
      'Which sound is heard? Select one option: Man, Woman, Child, Robot Respond with exactly one of the options above.',
    );
    expect(() => mmauPrompt('q?', [])).toThrow('no choices');
  });
});

describe('JSONL', () => {
  it('round trip through JsonlWriter / readRecords, with line numbers', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'jsonl-')), 'r.jsonl');
    const records = Array.from({ length: 1000 }, (_, i) => rec(i));
    expect(await writeJsonl(p, records)).toBe(1000);
    expect(await collect(readRecords(p))).toEqual(records);
    const lines = await collect(readJsonlLines(p));
    expect(lines[999].line).toBe(1000);
    expect(readFileSync(p, 'utf8').split('\n')[0]).toBe(JSON.stringify(records[0]));
  });
  it('a line that is not JSON names file and line; skipBad counts it', async () => {
    const p = join(BAD, 'records_bad_line.jsonl');
    await expect(collect(readRecords(p))).rejects.toThrow(`${p}:2: line is not valid JSON`);
    const stats = { read: 0, skipped: 0 };
    const skipped: number[] = [];
    const got = await collect(readRecords(p, { skipBad: true, stats, onSkip: (_e, line) => skipped.push(line) }));
    expect(got.map((r) => r.id)).toEqual(['a', 'c']);
    expect(stats).toEqual({ read: 2, skipped: 1 });
    expect(skipped).toEqual([2]);
  });
  it('a record with a wrong field names the field and the expected values', async () => {
    const p = join(BAD, 'records_bad_task.jsonl');
    await expect(collect(readRecords(p))).rejects.toThrow(`${p}:1: field "task" must be one of cls|cap|aqa|mcq, got "classify"`);
  });
  it('a missing file', async () => {
    await expect(collect(readRecords('/nonexistent/x.jsonl'))).rejects.toThrow('/nonexistent/x.jsonl: cannot read JSONL file (ENOENT)');
  });
  it('an aborted writer leaves nothing under the real name', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'jsonl-')), 'r.jsonl');
    const w = new JsonlWriter(p);
    await w.write(rec(1));
    await w.abort();
    expect(existsSync(p)).toBe(false);
  });
});

describe('shuffle buffer and mixing', () => {
  it('shuffleBuffer is a seeded permutation; a buffer >= input is a full shuffle', async () => {
    const input = Array.from({ length: 100 }, (_, i) => i);
    const a = await collect(shuffleBuffer(input, 10, 5));
    const b = await collect(shuffleBuffer(input, 10, 5));
    const c = await collect(shuffleBuffer(input, 10, 6));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(input);
    // Output position p is produced when item p + 10 is read, so item v cannot come out before position v - 10.
    a.forEach((v, pos) => expect(pos).toBeGreaterThanOrEqual(v - 10));
    // A buffer as large as the input is exactly Rng.shuffle of the input.
    expect(await collect(shuffleBuffer(input, 100, 9))).toEqual(new Rng(9).shuffle([...input]));
  });
  it('mixSources draws by weight (seeded) and exhausts sources', async () => {
    const a = Array.from({ length: 3000 }, (_, i) => rec(i, 'a'));
    const b = Array.from({ length: 3000 }, (_, i) => rec(i, 'b'));
    const mixed = [];
    for await (const m of mixSources([{ name: 'a', open: () => a, weight: 3 }, { name: 'b', open: () => b, weight: 1 }], { seed: 1 })) {
      mixed.push(m.source);
      if (mixed.length === 2000) break;
    }
    const fracA = mixed.filter((s) => s === 'a').length / 2000;
    expect(fracA).toBeGreaterThan(0.72);
    expect(fracA).toBeLessThan(0.78);
    const all = await collect(mixSources([{ name: 'a', open: () => a.slice(0, 5), weight: 1 }, { name: 'b', open: () => b.slice(0, 7), weight: 1 }], { seed: 2 }));
    expect(all.length).toBe(12);
    // Each source keeps its own order.
    expect(all.filter((m) => m.source === 'a').map((m) => m.item.id)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    const stopped = await collect(mixSources([{ name: 'a', open: () => a.slice(0, 5), weight: 1 }, { name: 'b', open: () => b, weight: 1 }], { seed: 2, until: 'stop' }));
    expect(stopped.filter((m) => m.source === 'a').length).toBe(5);
    expect(stopped.length).toBeLessThan(40);
    let n = 0;
    for await (const _ of mixSources([{ name: 'a', open: () => a.slice(0, 2), weight: 1 }], { seed: 0, until: 'repeat' })) if (++n === 7) break;
    expect(n).toBe(7);
    await expect(collect(mixSources([{ name: 'a', open: () => a, weight: -1 }], { seed: 0 }))).rejects.toThrow('source "a" has weight -1');
  });
});
