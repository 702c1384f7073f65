import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { hasShared, sharedDataPath } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'mats-bench-cli-'));
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const refs = file('refs.json', [
  { id: 'a', captions: ['a dog barks in the distance', 'a dog is barking'] },
  { id: 'b', captions: ['rain falls on a roof', 'heavy rain on a tin roof'] },
]);
const preds = file('preds.json', [
  { id: 'a', caption: 'A dog barks in the distance.' },
  { id: 'b', caption: 'Rain falls on a roof' },
]);

describe('mats-bench caption', () => {
  it('--json prints the pycocoevalcap keys', async () => {
    const { code, out } = await run(['caption', '--predictions', preds, '--references', refs, '--json']);
    expect(code).toBe(0);
    const m = JSON.parse(out);
    expect(Object.keys(m)).toEqual(['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr', 'SPICE', 'SPIDEr', 'spiceUnavailableReason']);
    // both candidates equal a reference after tokenisation: ROUGE-L 1 for each
    expect(m.ROUGE_L).toBe(1);
    expect(m.SPICE).toBeNull();
  });

  it('prints a readable table without --json', async () => {
    const { code, out } = await run(['caption', '--predictions', preds, '--references', refs]);
    expect(code).toBe(0);
    expect(out).toMatch(/^Bleu_1: 1\.000\n/);
    expect(out).toContain('SPICE: unavailable');
  });

  it('bad input gives clear errors and exit code 1', async () => {
    const notJson = file('broken.json', '[{"id": "a", "caption": ');
    let r = await run(['caption', '--predictions', notJson, '--references', refs]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`predictions ${notJson}: not valid JSON`);

    const oneOnly = file('one.json', [{ id: 'a', caption: 'x' }, { id: 'z', caption: 'y' }]);
    r = await run(['caption', '--predictions', oneOnly, '--references', refs]);
    expect(r.err).toMatch(/must cover the same ids; 1 id\(s\) only in references .*refs.json: "b"; 1 id\(s\) only in predictions .*one.json: "z"/);

    const numeric = file('numeric.json', [{ id: 'a', caption: 42 }, { id: 'b', caption: 'y' }]);
    r = await run(['caption', '--predictions', numeric, '--references', refs]);
    expect(r.err).toMatch(/row 0 \(id a\): field "caption" must be a string, got number 42/);

    const noId = file('noid.json', [{ caption: 'x' }]);
    r = await run(['caption', '--predictions', noId, '--references', refs]);
    expect(r.err).toMatch(/row 0: field "id" must be a non-empty string or a number, got undefined/);

    const dup = file('dup.json', [{ id: 'a', caption: 'x' }, { id: 'a', caption: 'y' }]);
    r = await run(['caption', '--predictions', dup, '--references', refs]);
    expect(r.err).toMatch(/row 1: duplicate id "a"/);

    const badRefs = file('badrefs.json', [{ id: 'a', captions: 'one caption' }]);
    r = await run(['caption', '--predictions', preds, '--references', badRefs]);
    expect(r.err).toMatch(/field "captions" must be a non-empty array of strings/);

    r = await run(['caption', '--predictions', join(dir, 'missing.json'), '--references', refs]);
    expect(r.err).toMatch(/missing.json: cannot read file \(ENOENT\)/);
  });

  it('usage errors exit with 2', async () => {
    expect((await run(['caption', '--references', refs])).code).toBe(2);
    expect((await run(['nonsense'])).err).toContain('unknown command "nonsense"');
    expect((await run(['caption', '--bogus'])).code).toBe(2);
  });
});

describe('mats-bench classify', () => {
  const labels = file('labels.json', {
    labels: ['dog barking', 'rain', 'car engine'],
    items: [
      { id: '1', labels: ['dog barking'] },
      { id: '2', label: 'rain' },
      { id: '3', labels: ['car engine', 'rain'] },
    ],
  });
  it('text-matches with the bag-of-words encoder', async () => {
    const p = file('cls.json', [
      { id: '1', prediction: 'a dog is barking' },
      { id: '2', prediction: 'heavy rain' },
      { id: '3', prediction: 'a car engine idles in the rain' },
    ]);
    const { code, out } = await run(['classify', '--predictions', p, '--labels', labels, '--encoder', 'bow', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.accuracy).toBe(1); // item 3: "car engine" scores 2/sqrt(7*2) > "rain" 1/sqrt(7*1)
    expect(r.count).toBe(3);
    expect(r.classes).toBe(3);
    // each class has its positives ranked first by similarity -> AP 1 per class
    expect(r.mAP).toBeCloseTo(1, 12);
  });
  it('names unknown labels and a missing encoder', async () => {
    const bad = file('badlabels.json', { labels: ['a'], items: [{ id: '1', labels: ['b'] }] });
    const p = file('cls1.json', [{ id: '1', prediction: 'x' }]);
    let r = await run(['classify', '--predictions', p, '--labels', bad, '--encoder', 'bow']);
    expect(r.err).toMatch(/items\[0\] \(id 1\): label "b" is not one of the 1 classes/);
    r = await run(['classify', '--predictions', p, '--labels', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--encoder is required');
  });
  it('loads an encoder module', async () => {
    const mod = file('enc.mjs', `export function createTextEncoder() {
      return { async embedText(texts) { const data = new Float32Array(texts.length * 2);
        texts.forEach((t, i) => { data[i * 2] = t.includes('dog') ? 1 : 0; data[i * 2 + 1] = t.includes('dog') ? 0 : 1; });
        return { rows: texts.length, dim: 2, data }; } };
    }`);
    const l = file('l2.json', { labels: ['dog', 'other'], items: [{ id: '1', label: 'dog' }, { id: '2', label: 'other' }] });
    const p = file('p2.json', [{ id: '1', prediction: 'dog' }, { id: '2', prediction: 'wind' }]);
    const { out, code } = await run(['classify', '--predictions', p, '--labels', l, '--encoder', mod, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).accuracy).toBe(1);
  });
});

describe('mats-bench mmau input checks', () => {
  const q = (id: string, answer: string, extra: Record<string, unknown> = {}) => ({ id, choices: ['dog', 'cat'], answer, task: 'sound', difficulty: 'easy', 'sub-category': 'animals', ...extra });
  it('a file with no model_output at all is an error (exit 1), not 0.00%', async () => {
    const input = file('no-output.json', [q('a', 'dog'), q('b', 'cat')]);
    const { code, err } = await run(['mmau', '--input', input]);
    expect(code).toBe(1);
    expect(err).toContain(`MMAU input ${input}: none of its 2 items has a "model_output" field`);
  });
  it('duplicated ids are an error', async () => {
    const input = file('dup.json', [q('a', 'dog', { model_output: 'dog' }), q('a', 'dog', { model_output: 'dog' })]);
    const { code, err } = await run(['mmau', '--input', input]);
    expect(code).toBe(1);
    expect(err).toContain('duplicate id "a" (also item 0)');
  });
  it('--benchmark: ids outside it are an error; answers come from it; official and strict both printed', async () => {
    const bench = file('bench.json', [q('a', 'dog'), q('b', 'cat'), q('c', 'cat')]);
    const bad = file('outside.json', [q('a', 'dog', { model_output: 'dog' }), q('x', 'dog', { model_output: 'dog' })]);
    const r1 = await run(['mmau', '--input', bad, '--benchmark', bench]);
    expect(r1.code).toBe(1);
    expect(r1.err).toContain(`MMAU input ${bad}: 1 id(s) are not questions of MMAU benchmark ${bench}: "x"`);
    const good = file('answers.json', [q('a', 'cat', { model_output: 'cat' }), q('b', 'cat', { model_output: 'cat' })]);
    const r2 = await run(['mmau', '--input', good, '--benchmark', bench, '--json']);
    expect(r2.code).toBe(0);
    const j = JSON.parse(r2.out);
    expect(j.official.total).toEqual({ correct: 1, count: 2, accuracy: 50 });
    expect(j.total).toMatchObject({ correct: 1, count: 3 });
    expect(j.total.accuracy).toBeCloseTo(100 / 3, 10);
    expect(j.noPrediction).toBe(1);
  });
  it('accepts a UTF-8 byte-order mark', async () => {
    const input = file('bom.json', `\ufeff${JSON.stringify([q('a', 'dog', { model_output: 'dog' })])}`);
    const { code, out } = await run(['mmau', '--input', input, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).official.total.accuracy).toBe(100);
  });
});

describe.skipIf(!hasShared('mmau-test-mini.json'))('mats-bench mmau (skipped without ../shared)', () => {
  it('--json gives total / task / difficulty / sub-category with accuracy in percent', async () => {
    const items = JSON.parse(readFileSync(sharedDataPath('mmau-test-mini.json'), 'utf8')) as { answer: string }[];
    const input = file('mmau.json', items.map((x, i) => ({ ...x, model_output: i % 2 === 0 ? x.answer : '' })));
    const { code, out } = await run(['mmau', '--input', input, '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.total).toEqual({ correct: 500, count: 1000, accuracy: 50 });
    expect(Object.keys(r)).toEqual(['total', 'task', 'difficulty', 'sub-category', 'noPrediction', 'official']);
    expect(r.task.sound.count).toBe(333);
  });
});
