import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInspection, inspectFile } from './inspect.js';

const dir = mkdtempSync(join(tmpdir(), 'mats-inspect-'));
const good = (i: number) => ({ id: `r${i}`, text: `a dog barks ${i}`, instruction: 'Generate audio caption.', answer: 'a dog barks', task: 'cap', audioType: 'sound', source: 'test' });
const write = (name: string, lines: unknown[]) => {
  const p = join(dir, name);
  writeFileSync(p, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return p;
};

describe('mats-data inspect validates AudioTIA records', () => {
  it('valid records are called valid', async () => {
    const r = await inspectFile(write('good.jsonl', [good(1), good(2)]));
    expect(r.kind).toBe('records');
    expect(r.invalid).toBe(0);
    expect(formatInspection(r)).toContain(': 2 valid AudioTIA records');
  });

  it('missing fields, wrong types and empty texts are counted and named by line and field', async () => {
    const { answer: _a, ...noAnswer } = good(2);
    const p = write('bad.jsonl', [good(1), noAnswer, { ...good(3), task: 'caption' }, { ...good(4), text: 7 }, { ...good(5), text: '  ' }]);
    const r = await inspectFile(p);
    expect(r.kind).toBe('records');
    expect(r.invalid).toBe(4);
    expect(r.errors).toEqual([
      `${p}:2: field "answer" must be a string, got nothing (missing)`,
      `${p}:3: field "task" must be one of cls|cap|aqa|mcq, got "caption"`,
      `${p}:4: field "text" must be a string, got 7`,
      `${p}:5: field "text" is empty (the description CLAP embeds needs at least one word)`,
    ]);
    const text = formatInspection(r);
    expect(text).toContain(`${p}: 5 AudioTIA records, 4 INVALID (first 4):`);
    expect(text).not.toContain('valid AudioTIA records');
  });

  it('a JSON array is checked item by item, also with a byte-order mark', async () => {
    const p = join(dir, 'arr.json');
    writeFileSync(p, `\ufeff${JSON.stringify([good(1), { ...good(2), audioType: 'noise' }])}`);
    const r = await inspectFile(p);
    expect(r.invalid).toBe(1);
    expect(r.errors[0]).toBe(`${p}: item 1: field "audioType" must be one of sound|music|speech, got "noise"`);
  });

  it('other datasets are items, not records, and are not validated', async () => {
    const r = await inspectFile(write('mmau.jsonl', [{ id: 'q', question: 'what?', choices: ['a'], answer: 'a' }]));
    expect(r.kind).toBe('jsonl');
    expect(r.invalid).toBe(0);
    expect(formatInspection(r)).toContain(': 1 items (jsonl)');
  });
});
