import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatMmauReport, joinMmauPredictions, mmauIsCorrect, mmauTokenize, scoreMmau, type MmauItem } from './mmau.js';
import { fixturePath, hasShared, sharedDataPath } from './testing.js';

const MMAU_FILE = 'mmau-test-mini.json';
const load = (): MmauItem[] => JSON.parse(readFileSync(sharedDataPath(MMAU_FILE), 'utf8'));

describe('mmauIsCorrect (official string_match rule)', () => {
  it('tokenises like re.findall(r"\\b\\w+\\b", text.lower()) into a set', () => {
    expect([...mmauTokenize("A man's voice, (loud)! A_b 42 café")]).toEqual(['a', 'man', 's', 'voice', 'loud', 'a_b', '42', 'café']);
  });

  it('handles a small set of choices by the rule', () => {
    const choices = ['Man', 'Woman', 'Child', 'Robot'];
    expect(mmauIsCorrect('Man', 'Man', choices)).toBe(true);
    expect(mmauIsCorrect('It is a man.', 'Man', choices)).toBe(true); // extra words are fine unless they belong to another choice
    expect(mmauIsCorrect('man or woman', 'Man', choices)).toBe(false); // "woman" is another choice's word
    expect(mmauIsCorrect('', 'Man', choices)).toBe(false);
    expect(mmauIsCorrect('...', 'Man', choices)).toBe(false); // no word tokens = empty
  });
});

describe.skipIf(!hasShared(MMAU_FILE))('MMAU scoring on the real test-mini file (skipped without ../shared)', () => {
  const items = hasShared(MMAU_FILE) ? load() : [];
  const byId = (id: string) => {
    const item = items.find((x) => x.id === id);
    if (!item) throw new Error(`item ${id} not in ${MMAU_FILE}`);
    return item;
  };

  it('judges constructed predictions on real items, each by the rule', () => {
    // item 0: choices Man / Woman / Child / Robot, answer "Man"
    const speaker = byId('3fe64f3d-282c-4bc8-a753-68f8f6c35652');
    expect(speaker.choices).toEqual(['Man', 'Woman', 'Child', 'Robot']);
    const ok = (p: string) => mmauIsCorrect(p, speaker.answer, speaker.choices);
    expect(ok('Man')).toBe(true); // exact answer
    expect(ok('The speaker is a man.')).toBe(true); // answer in a sentence; no other choice's word
    expect(ok('MAN!!!')).toBe(true); // case and punctuation do not matter
    expect(ok('A man, not a woman')).toBe(false); // two options mentioned: "woman" is an incorrect token
    expect(ok('A')).toBe(false); // letter only: {a} does not contain {man}
    expect(ok('')).toBe(false); // empty prediction is wrong

    // item 1: choices "A child" / "A woman" / "An adult man" / "A teenager", answer "A woman".
    // Answer tokens {a, woman}; incorrect tokens: {child, an, adult, man, teenager} ("a" is shared).
    const source = byId('72fb5481-73ae-409d-8e16-c94ac48d2ee4');
    const ok1 = (p: string) => mmauIsCorrect(p, source.answer, source.choices);
    expect(ok1('A woman')).toBe(true);
    expect(ok1('woman')).toBe(false); // "a" is part of the answer's tokens and is missing
    expect(ok1('It is a woman speaking')).toBe(true);
    expect(ok1('a woman, maybe an adult man')).toBe(false); // mentions a second option
    expect(ok1('a WOMAN.')).toBe(true);
    expect(ok1('B')).toBe(false);
  });

  it('exact answers score 100% in every cell, with the real counts', () => {
    const r = scoreMmau(items.map((x) => ({ ...x, model_output: x.answer })));
    expect(r.total).toEqual({ correct: 1000, count: 1000, accuracy: 100 });
    expect(r.task.sound.count + r.task.music.count + r.task.speech.count).toBe(1000);
    expect(r.task).toEqual({
      sound: { correct: 333, count: 333, accuracy: 100 },
      music: { correct: 334, count: 334, accuracy: 100 },
      speech: { correct: 333, count: 333, accuracy: 100 },
    });
    expect(Object.keys(r['sub-category']).length).toBe(27);
    expect(r.noPrediction).toBe(0);
  });

  it('a missing model_output is an empty prediction: wrong, and counted as "no prediction"', () => {
    const r = scoreMmau(items.map(({ model_output: _, ...rest }) => rest as MmauItem));
    expect(r.total).toEqual({ correct: 0, count: 1000, accuracy: 0 });
    expect(r.noPrediction).toBe(1000);
  });

  it('matches the breakdowns computed with Python re by tools/make_bench_fixtures.py', () => {
    const fixture = JSON.parse(readFileSync(fixturePath('mmau-strategies.json'), 'utf8'));
    const strategies: Record<string, (x: MmauItem) => string> = {
      answer: (x) => x.answer,
      'first-choice': (x) => x.choices[0],
      'last-choice': (x) => x.choices[x.choices.length - 1],
      sentence: (x) => `The answer is ${x.answer}.`,
      'upper-punct': (x) => x.answer.toUpperCase() + '!!',
      'two-options': (x) => `${x.choices[0]} or ${x.choices[1]}`,
      'letter-b': () => 'B',
      empty: () => '',
    };
    expect(Object.keys(fixture.strategies).sort()).toEqual(Object.keys(strategies).sort());
    for (const [name, make] of Object.entries(strategies)) {
      const r = scoreMmau(items.map((x) => ({ ...x, model_output: make(x) })));
      const want = fixture.strategies[name];
      expect(r.total, name).toEqual(want.total);
      for (const key of ['task', 'difficulty', 'sub-category'] as const) {
        for (const [cellName, cell] of Object.entries(want[key] as Record<string, { correct: number; count: number; accuracy: number }>)) {
          expect(r[key][cellName].correct, `${name} ${key} ${cellName}`).toBe(cell.correct);
          expect(r[key][cellName].count).toBe(cell.count);
          expect(r[key][cellName].accuracy).toBeCloseTo(cell.accuracy, 10);
        }
      }
    }
  });

  it('prints the breakdown like the official script', () => {
    const text = formatMmauReport(scoreMmau(items.map((x) => ({ ...x, model_output: x.choices[0] }))));
    expect(text).toContain('Task-wise Accuracy:\nsound : ');
    expect(text).toContain('Total Accuracy: 39.80% over 1000 samples');
  });
});

describe('MMAU input errors', () => {
  const item: MmauItem = { id: 'q1', choices: ['a', 'b'], answer: 'a', task: 'sound', difficulty: 'easy', 'sub-category': 'x', model_output: 'a' };
  it('names the item and field', () => {
    expect(() => scoreMmau([{ ...item, answer: 3 as unknown as string }], 'f.json')).toThrow(/f.json: item 0 \(id q1\): field "answer" must be a string, got number/);
    expect(() => scoreMmau([{ ...item, choices: 'a,b' as unknown as string[] }])).toThrow(/field "choices" must be an array of strings/);
    expect(() => scoreMmau([{ ...item, model_output: 7 as unknown as string }])).toThrow(/field "model_output" must be a string, got number/);
    expect(() => scoreMmau({} as unknown as MmauItem[])).toThrow(/expected a JSON array/);
  });
  it('keeps unknown task names as their own cells', () => {
    const r = scoreMmau([{ ...item, task: 'other' }]);
    expect(r.task.other).toEqual({ correct: 1, count: 1, accuracy: 100 });
    expect(r.task.sound).toEqual({ correct: 0, count: 0, accuracy: 0 });
  });
});

describe('MMAU: duplicates, missing predictions, ids against the benchmark', () => {
  const q = (id: string, answer: string, model_output?: string | null): MmauItem => ({ id, choices: ['dog', 'cat', 'bird'], answer, task: 'sound', difficulty: 'easy', 'sub-category': 'animals', ...(model_output === undefined ? {} : { model_output }) });

  it('a duplicated id is an error naming both items (not scored twice)', () => {
    expect(() => scoreMmau([q('a', 'dog', 'dog'), q('b', 'cat', 'cat'), q('a', 'dog', 'dog')], 'x.json')).toThrow('x.json: item 2 (id a): duplicate id "a" (also item 0); each question must be scored once');
  });

  it('official accuracy skips items without a prediction; strict counts them as wrong', () => {
    // 4 questions: 2 right, 1 wrong, 1 without model_output (and one null)
    const r = scoreMmau([q('a', 'dog', 'dog'), q('b', 'cat', 'the cat'), q('c', 'bird', 'dog'), q('d', 'dog'), q('e', 'cat', null)]);
    expect(r.noPrediction).toBe(2);
    expect(r.official.total).toEqual({ correct: 2, count: 3, accuracy: (2 / 3) * 100 });
    expect(r.total).toEqual({ correct: 2, count: 5, accuracy: 40 });
    expect(r.official.task.sound.count).toBe(3);
    expect(r.official['sub-category'].animals.correct).toBe(2);
    const text = formatMmauReport(r);
    expect(text).toContain('Total Accuracy: 66.67% over 3 samples (official rule: items without a prediction skipped)');
    expect(text).toContain('No prediction count: 2');
    expect(text).toContain('Strict accuracy: 40.00% over 5 samples (items without a prediction counted as wrong)');
  });

  it('joinMmauPredictions scores the benchmark answers, not the file own, and refuses ids outside it', () => {
    const benchmark = [q('a', 'dog'), q('b', 'cat'), q('c', 'bird')];
    // the prediction file claims "cat" is the answer of a: the benchmark says dog
    const joined = joinMmauPredictions(benchmark, [{ ...q('a', 'cat'), model_output: 'cat' }, q('b', 'cat', 'cat')]);
    const r = scoreMmau(joined);
    expect(r.official.total).toEqual({ correct: 1, count: 2, accuracy: 50 });
    expect(r.noPrediction).toBe(1); // c was not answered
    expect(r.total.count).toBe(3);
    expect(() => joinMmauPredictions(benchmark, [q('a', 'dog', 'dog'), q('zz', 'dog', 'dog')], 'B.json', 'X.json')).toThrow('X.json: 1 id(s) are not questions of B.json: "zz"');
    expect(() => joinMmauPredictions(benchmark, [q('a', 'dog', 'dog'), q('a', 'dog', 'dog')], 'B.json', 'X.json')).toThrow('X.json: item 1: duplicate id "a"');
  });
});
