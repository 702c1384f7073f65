import { describe, expect, it } from 'vitest';
import { aqaAccuracy, normalizeAnswer } from './aqa.js';

describe('AQA accuracy', () => {
  it('normalises case, punctuation and spaces', () => {
    expect(normalizeAnswer('  Yes, it IS!  ')).toBe('yes it is');
    expect(normalizeAnswer("Don't know.")).toBe('dont know');
    expect(normalizeAnswer('rain-drops')).toBe('rain drops');
  });

  it('counts exact matches after normalisation, and yes/no questions separately', () => {
    const r = aqaAccuracy([
      { prediction: 'Yes.', answer: 'yes' }, // binary, correct
      { prediction: 'no', answer: 'Yes' }, // binary, wrong
      { prediction: 'NO!', answer: 'no' }, // binary, correct
      { prediction: 'a dog', answer: 'dog' }, // open, wrong (exact match only)
      { prediction: 'Three', answer: ['three', '3'] }, // open, correct via the second form
    ]);
    expect(r.all).toEqual({ correct: 3, count: 5, accuracy: 0.6 });
    expect(r.binary).toEqual({ correct: 2, count: 3, accuracy: 2 / 3 });
  });

  it('reports NaN accuracy for an empty subset and rejects bad items', () => {
    expect(aqaAccuracy([{ prediction: 'x', answer: 'y' }]).binary.accuracy).toBeNaN();
    expect(() => aqaAccuracy([{ prediction: 1 as unknown as string, answer: 'y' }])).toThrow(/item 0: "prediction" must be a string/);
    expect(() => aqaAccuracy([{ prediction: 'x', answer: [] }])).toThrow(/item 0: "answer"/);
  });
});
