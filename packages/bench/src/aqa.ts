/**
 * Audio question answering accuracy (ClothoAQA): exact match after normalisation (lower case,
 * punctuation removed, whitespace collapsed), plus the same accuracy on the yes/no questions only
 * ("binary accuracy": items whose normalised reference answer is `yes` or `no`).
 */
export interface AqaItem {
  prediction: string;
  /** the reference answer, or several acceptable answers */
  answer: string | string[];
}

export interface AqaCell {
  correct: number;
  count: number;
  /** fraction in [0, 1]; NaN when count is 0 */
  accuracy: number;
}

export interface AqaReport {
  all: AqaCell;
  binary: AqaCell;
}

/** Lower case, punctuation dropped (kept apart as spaces), whitespace collapsed. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/['\u2019]/g, '')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

export function aqaAccuracy(items: readonly AqaItem[]): AqaReport {
  const all: AqaCell = { correct: 0, count: 0, accuracy: NaN };
  const binary: AqaCell = { correct: 0, count: 0, accuracy: NaN };
  items.forEach((item, i) => {
    if (!item || typeof item.prediction !== 'string') throw new Error(`aqaAccuracy: item ${i}: "prediction" must be a string`);
    const answers = Array.isArray(item.answer) ? item.answer : [item.answer];
    if (answers.length === 0 || answers.some((a) => typeof a !== 'string')) {
      throw new Error(`aqaAccuracy: item ${i}: "answer" must be a string or a non-empty array of strings`);
    }
    const normalized = answers.map(normalizeAnswer);
    const correct = normalized.includes(normalizeAnswer(item.prediction));
    all.count++;
    if (correct) all.correct++;
    if (normalized.every((a) => a === 'yes' || a === 'no')) {
      binary.count++;
      if (correct) binary.correct++;
    }
  });
  for (const c of [all, binary]) c.accuracy = c.count > 0 ? c.correct / c.count : NaN;
  return { all, binary };
}
