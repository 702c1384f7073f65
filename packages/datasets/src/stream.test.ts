import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlCursor, RecordStream, reservoirSample, scanRecords, type StreamSource } from './stream.js';

const dir = mkdtempSync(join(tmpdir(), 'stream-'));

function record(source: string, i: number, text = `text ${source} ${i}`) {
  return JSON.stringify({ id: `${source}/${i}`, text, instruction: 'Generate audio caption.', answer: text, task: 'cap', audioType: 'sound', source });
}

/** A JSONL file of n records; `tail` false leaves the last line without a newline; blank lines in between. */
function jsonl(name: string, n: number, tail = true): string {
  const path = join(dir, name);
  const lines = Array.from({ length: n }, (_, i) => record(name, i));
  lines.splice(2, 0, '');
  writeFileSync(path, lines.join('\n') + (tail ? '\n' : ''));
  return path;
}

const ids = (xs: { record: { id: string } }[]) => xs.map((x) => x.record.id);

describe('RecordStream', () => {
  const sources: StreamSource[] = [
    { name: 'a', path: jsonl('a.jsonl', 7), weight: 3 },
    { name: 'b', path: jsonl('b.jsonl', 5, false), weight: 1 },
    { name: 'c', path: jsonl('c.jsonl', 11), weight: 2 },
  ];

  it('each epoch of a source is a permutation of its records; ordinals are file positions', async () => {
    const s = await RecordStream.open([sources[0]], { seed: 1, shuffleBuffer: 3 });
    const epoch0 = await s.take(7);
    const epoch1 = await s.take(7);
    await s.close();
    expect(epoch0.map((r) => r.ordinal).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(epoch1.map((r) => r.ordinal).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(epoch0.every((r) => r.epoch === 0) && epoch1.every((r) => r.epoch === 1)).toBe(true);
    expect(epoch0.every((r) => r.record.id === `a.jsonl/${r.ordinal}`)).toBe(true);
    expect(ids(epoch0)).not.toEqual(ids(epoch1));
    // shuffleBuffer 1 is file order.
    const ordered = await RecordStream.open([sources[1]], { seed: 1, shuffleBuffer: 1 });
    expect(ids(await ordered.take(6))).toEqual(['b.jsonl/0', 'b.jsonl/1', 'b.jsonl/2', 'b.jsonl/3', 'b.jsonl/4', 'b.jsonl/0']);
    await ordered.close();
  });

  it('a stream restored from its state (through JSON) continues exactly, at every stopping point', async () => {
    const whole = await RecordStream.open(sources, { seed: 9, shuffleBuffer: 4 });
    const expected = ids(await whole.take(60));
    await whole.close();
    for (const stop of [0, 1, 5, 17, 33, 59]) {
      const first = await RecordStream.open(sources, { seed: 9, shuffleBuffer: 4 });
      const head = ids(await first.take(stop));
      const state = JSON.parse(JSON.stringify(first.getState()));
      await first.close();
      const resumed = await RecordStream.open(sources, { seed: 9, shuffleBuffer: 4 }, state);
      const rest = ids(await resumed.take(60 - stop));
      expect(resumed.getState().sources.map((s) => s.epoch)).toEqual(state.sources.map(() => expect.any(Number)));
      await resumed.close();
      expect([...head, ...rest], `stopped after ${stop}`).toEqual(expected);
    }
  });

  it('attach runs in file order as records enter the buffer, and again for restored records', async () => {
    const calls: string[] = [];
    const attach = (s: number, _r: unknown, o: number) => {
      calls.push(`${s}:${o}`);
      return `${s}:${o}`;
    };
    const s1 = await RecordStream.open([sources[0], sources[1]], { seed: 4, shuffleBuffer: 3, attach });
    const drawn = await s1.take(10);
    expect(drawn.every((d) => d.attached === `${d.source}:${d.ordinal}`)).toBe(true);
    for (const src of [0, 1]) {
      const ordinals = calls.filter((c) => c.startsWith(`${src}:`)).map((c) => Number(c.split(':')[1]));
      // In file order: each next ordinal is the one after, or 0 when a new epoch starts.
      ordinals.slice(1).forEach((o, k) => expect(o === ordinals[k] + 1 || o === 0).toBe(true));
    }
    const state = s1.getState();
    await s1.close();
    calls.length = 0;
    const s2 = await RecordStream.open([sources[0], sources[1]], { seed: 4, shuffleBuffer: 3, attach }, state);
    expect(calls).toHaveLength(state.sources[0].buffer.length + state.sources[1].buffer.length);
    expect((await s2.take(5)).every((d) => d.attached === `${d.source}:${d.ordinal}`)).toBe(true);
    await s2.close();
  });

  it('draws sources in proportion to their weights; weight 0 is never drawn', async () => {
    const s = await RecordStream.open([{ ...sources[0], weight: 3 }, { ...sources[2], weight: 1 }, { ...sources[1], weight: 0 }], { seed: 2, shuffleBuffer: 8 });
    const drawn = await s.take(4000);
    await s.close();
    const share = drawn.filter((r) => r.source === 0).length / drawn.length;
    expect(share).toBeGreaterThan(0.72);
    expect(share).toBeLessThan(0.78);
    expect(drawn.some((r) => r.source === 2)).toBe(false);
  });

  it('held-out records (keep false) are never drawn and keep their ordinals', async () => {
    const keep = (_: unknown, ordinal: number) => ordinal % 3 !== 0;
    const s = await RecordStream.open([sources[2]], { seed: 3, shuffleBuffer: 5, keep });
    const drawn = await s.take(14);
    await s.close();
    expect(drawn.map((r) => r.ordinal).sort((x, y) => x - y)).toEqual([1, 1, 2, 2, 4, 4, 5, 5, 7, 7, 8, 8, 10, 10]);
    const none = await RecordStream.open([sources[1]], { seed: 3, keep: () => false });
    await expect(none.next()).rejects.toThrow(/b\.jsonl: source "b" has no records to draw \(after holding out validation records\)/);
    await none.close();
  });

  it('bad input: malformed lines (file:line, or counted with skipBad), weights, a file gone mid-run, a changed file on resume', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, [record('x', 0), '{"id": "x/1", "text": "no", ', record('x', 2), JSON.stringify({ id: 'x/3', text: 't', instruction: 'i', answer: 'a', task: 'sing', audioType: 'sound', source: 'x' }), ''].join('\n'));
    const strict = await RecordStream.open([{ name: 'x', path: bad, weight: 1 }], { seed: 0, shuffleBuffer: 1 });
    await strict.next();
    await expect(strict.next()).rejects.toThrow(`${bad}:2: line is not valid JSON`);
    await strict.close();
    const lenient = await RecordStream.open([{ name: 'x', path: bad, weight: 1 }], { seed: 0, shuffleBuffer: 1, skipBad: true });
    expect(ids(await lenient.take(3))).toEqual(['x/0', 'x/2', 'x/0']);
    expect(lenient.skipped).toEqual([2]);
    await lenient.close();
    await expect(scanRecords(bad).next()).resolves.toBeTruthy();
    const all = [];
    await expect((async () => { for await (const r of scanRecords(bad)) all.push(r); })()).rejects.toThrow(`${bad}:2:`);

    await expect(RecordStream.open([{ ...sources[0], weight: 0 }, { ...sources[1], weight: 0 }], { seed: 0 })).rejects.toThrow(/weights of the 2 source\(s\) sum to 0; at least one must be > 0 \(a: 0, b: 0\)/);
    await expect(RecordStream.open([{ ...sources[0], weight: -1 }], { seed: 0 })).rejects.toThrow('source "a" (' + sources[0].path + ') has weight -1');
    await expect(RecordStream.open([{ ...sources[0], weight: Number.NaN }], { seed: 0 })).rejects.toThrow('has weight NaN');
    await expect(RecordStream.open([{ name: 'm', path: join(dir, 'missing.jsonl'), weight: 1 }], { seed: 0 })).rejects.toThrow(/missing\.jsonl: the source file is gone \(opening it\)/);

    const gone = jsonl('gone.jsonl', 4);
    const g = await RecordStream.open([{ name: 'g', path: gone, weight: 1 }], { seed: 0, shuffleBuffer: 2 });
    await g.take(2);
    unlinkSync(gone);
    await g.take(2); // the open file is still readable to the end of this epoch
    await expect(g.next()).rejects.toThrow(/gone\.jsonl: the source file is gone \(starting epoch 1 of source "g"\)/);
    await g.close();

    const changing = jsonl('changing.jsonl', 6);
    const c = await RecordStream.open([{ name: 'c', path: changing, weight: 1 }], { seed: 0 });
    await c.take(2);
    const state = c.getState();
    await c.close();
    appendFileSync(changing, record('changing', 6) + '\n');
    await expect(RecordStream.open([{ name: 'c', path: changing, weight: 1 }], { seed: 0 }, state)).rejects.toThrow(/changing\.jsonl: the file changed since the state was saved/);
  });
});

describe('JsonlCursor', () => {
  it('reads lines longer than its read buffer and CRLF endings; positions and recordAt agree with a fresh read', async () => {
    const path = join(dir, 'long.jsonl');
    const long = 'x'.repeat(600_000); // more than two 256 KiB reads; the other texts are "text l N" (8 characters)
    writeFileSync(path, [record('l', 0), record('l', 1, long), record('l', 2, 'caf\u00e9 \u266b'), record('l', 3)].join('\r\n') + '\r\n');
    const c = await JsonlCursor.open(path);
    const all = [];
    for (let r = await c.next(); r; r = await c.next()) all.push(r);
    expect(all.map((r) => [r.ordinal, r.line, r.record.text.length])).toEqual([[0, 1, 8], [1, 2, 600_000], [2, 3, 6], [3, 4, 8]]);
    expect(all[2].record.text).toBe('caf\u00e9 \u266b');
    expect(c.at).toEqual({ offset: c.size, line: 5, ordinal: 4 });
    for (const r of all) expect((await c.recordAt(r.offset, r.line, r.ordinal)).record).toEqual(r.record);
    await c.close();
    const from2 = await JsonlCursor.open(path, { offset: all[2].offset, line: 3, ordinal: 2 });
    expect((await from2.next())?.record.id).toBe('l/2');
    await from2.close();
    await expect(JsonlCursor.open(path, { offset: c.size + 1, line: 9, ordinal: 9 })).rejects.toThrow('is past the end of the file');
  });
});

describe('reservoirSample', () => {
  it('is seeded, keeps k items, and is uniform', async () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(await reservoirSample(items, 3, 'x')).toEqual(await reservoirSample(items, 3, 'x'));
    expect(await reservoirSample(items, 20, 'x')).toEqual(items);
    const counts = new Array(10).fill(0);
    for (let seed = 0; seed < 3000; seed++) for (const i of await reservoirSample(items, 3, seed)) counts[i]++;
    // Each item is in the sample with probability 3/10: 900 of 3000, binomial std about 25.
    for (const c of counts) expect(Math.abs(c - 900)).toBeLessThan(110);
  });
});
