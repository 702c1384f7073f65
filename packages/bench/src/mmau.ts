/**
 * MMAU scoring as the official `evaluation.py` of the MMAU repository:
 * - tokenise with `re.findall(r'\b\w+\b', text.lower())` into a *set* of words (Python's `\w` is
 *   Unicode letters, digits and `_`);
 * - correct when the answer's words are a subset of the prediction's words and the prediction shares
 *   no word with the union of (words of each other choice minus the answer's words); a choice whose
 *   word set equals the answer's is not "other"; an empty prediction (no words) is wrong;
 * - a missing `model_output` counts as an empty prediction (and is counted in `noPrediction`);
 * - accuracy per `task`, `difficulty`, `sub-category` and in total, in percent.
 */

const WORD = /[\p{L}\p{N}_]+/gu;

export function mmauTokenize(text: string): Set<string> {
  return new Set(text.toLowerCase().match(WORD) ?? []);
}

export function mmauIsCorrect(prediction: string, answer: string, choices: readonly string[]): boolean {
  const predictionTokens = mmauTokenize(prediction);
  const answerTokens = mmauTokenize(answer);
  if (predictionTokens.size === 0) return false;
  const incorrect = new Set<string>();
  for (const choice of choices) {
    const choiceTokens = mmauTokenize(choice);
    if (sameSet(choiceTokens, answerTokens)) continue;
    for (const t of choiceTokens) if (!answerTokens.has(t)) incorrect.add(t);
  }
  for (const t of answerTokens) if (!predictionTokens.has(t)) return false;
  for (const t of predictionTokens) if (incorrect.has(t)) return false;
  return true;
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export interface MmauItem {
  id?: string;
  question?: string;
  choices: string[];
  answer: string;
  task: string;
  difficulty: string;
  'sub-category'?: string;
  /** The model's answer; missing or null counts as an empty prediction. */
  model_output?: string | null;
  [key: string]: unknown;
}

export interface AccuracyCell {
  correct: number;
  count: number;
  /** percent, 0 when count is 0 (as the official script prints) */
  accuracy: number;
}

export interface MmauReport {
  total: AccuracyCell;
  task: Record<string, AccuracyCell>;
  difficulty: Record<string, AccuracyCell>;
  'sub-category': Record<string, AccuracyCell>;
  /** items without a `model_output` (scored as wrong) */
  noPrediction: number;
  /** per item, in input order: whether it was judged correct */
  perItem: { id: string | undefined; correct: boolean }[];
}

/** Validates MMAU items (names the item index and field) and scores them. */
export function scoreMmau(items: readonly MmauItem[], source = 'MMAU input'): MmauReport {
  if (!Array.isArray(items)) throw new Error(`${source}: expected a JSON array of MMAU items, got ${typeof items}`);
  // the official script starts from these keys, so they are always reported
  const task: Record<string, AccuracyCell> = { sound: cell(), music: cell(), speech: cell() };
  const difficulty: Record<string, AccuracyCell> = { easy: cell(), hard: cell(), medium: cell() };
  const sub: Record<string, AccuracyCell> = {};
  const total = cell();
  let noPrediction = 0;
  const perItem: MmauReport['perItem'] = [];
  items.forEach((item, index) => {
    const where = `${source}: item ${index}${item && typeof item.id === 'string' ? ` (id ${item.id})` : ''}`;
    if (item === null || typeof item !== 'object') throw new Error(`${where}: expected an object`);
    for (const field of ['answer', 'task', 'difficulty'] as const) {
      if (typeof item[field] !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${typeof item[field]}`);
    }
    if (!Array.isArray(item.choices) || item.choices.some((c: unknown) => typeof c !== 'string')) {
      throw new Error(`${where}: field "choices" must be an array of strings`);
    }
    let prediction = '';
    if (item.model_output === undefined || item.model_output === null) noPrediction++;
    else if (typeof item.model_output !== 'string') {
      throw new Error(`${where}: field "model_output" must be a string, got ${typeof item.model_output}`);
    } else prediction = item.model_output;
    const correct = mmauIsCorrect(prediction, item.answer, item.choices);
    const cells = [total, (task[item.task] ??= cell()), (difficulty[item.difficulty] ??= cell())];
    const subCategory = item['sub-category'];
    if (subCategory !== undefined && subCategory !== null) cells.push((sub[String(subCategory)] ??= cell()));
    for (const c of cells) {
      c.count++;
      if (correct) c.correct++;
    }
    perItem.push({ id: typeof item.id === 'string' ? item.id : undefined, correct });
  });
  for (const c of [total, ...Object.values(task), ...Object.values(difficulty), ...Object.values(sub)]) {
    c.accuracy = c.count > 0 ? (c.correct / c.count) * 100 : 0;
  }
  return { total, task, difficulty, 'sub-category': sub, noPrediction, perItem };
}

function cell(): AccuracyCell {
  return { correct: 0, count: 0, accuracy: 0 };
}

/** The breakdown as the official script prints it. */
export function formatMmauReport(report: MmauReport): string {
  const lines: string[] = [];
  const bar = '*'.repeat(30);
  const section = (title: string, cells: Record<string, AccuracyCell>) => {
    lines.push(bar, title);
    for (const [name, c] of Object.entries(cells)) lines.push(`${name} : ${c.accuracy.toFixed(2)}% over ${c.count} samples`);
  };
  section('Task-wise Accuracy:', report.task);
  section('Difficulty-wise Accuracy:', report.difficulty);
  section('Sub-category-wise Accuracy:', report['sub-category']);
  lines.push(bar, `Total Accuracy: ${report.total.accuracy.toFixed(2)}% over ${report.total.count} samples`, bar);
  lines.push(`No prediction count: ${report.noPrediction}`);
  return lines.join('\n');
}
