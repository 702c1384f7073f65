/**
 * MMAU scoring as the official `evaluation.py` of the MMAU repository:
 * - tokenise with `re.findall(r'\b\w+\b', text.lower())` into a *set* of words (Python's `\w` is
 *   Unicode letters, digits and `_`);
 * - correct when the answer's words are a subset of the prediction's words and the prediction shares
 *   no word with the union of (words of each other choice minus the answer's words); a choice whose
 *   word set equals the answer's is not "other"; an empty prediction (no words) is wrong;
 * - accuracy per `task`, `difficulty`, `sub-category` and in total, in percent.
 * Items without a `model_output` (missing or null) are reported two ways: the official script skips
 * them (`official`: accuracy over the items that have a prediction, `noPrediction` of them skipped),
 * the strict totals (`total`, `task`, ...) count them as wrong. Ids, when items carry them, must be
 * unique.
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

export interface MmauBreakdown {
  total: AccuracyCell;
  task: Record<string, AccuracyCell>;
  difficulty: Record<string, AccuracyCell>;
  'sub-category': Record<string, AccuracyCell>;
}

export interface MmauReport {
  /** strict: over every item, a missing prediction counted as wrong */
  total: AccuracyCell;
  task: Record<string, AccuracyCell>;
  difficulty: Record<string, AccuracyCell>;
  'sub-category': Record<string, AccuracyCell>;
  /** items without a `model_output`: wrong in the strict cells, skipped in `official` */
  noPrediction: number;
  /** the official script's rule: accuracy over the items that have a `model_output` */
  official: MmauBreakdown;
  /** per item, in input order: whether it was judged correct */
  perItem: { id: string | undefined; correct: boolean }[];
}

/** Validates MMAU items (names the item index and field) and scores them. */
export function scoreMmau(items: readonly MmauItem[], source = 'MMAU input'): MmauReport {
  if (!Array.isArray(items)) throw new Error(`${source}: expected a JSON array of MMAU items, got ${typeof items}`);
  const strict = breakdown();
  const official = breakdown();
  let noPrediction = 0;
  const perItem: MmauReport['perItem'] = [];
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const where = `${source}: item ${index}${item && typeof item.id === 'string' ? ` (id ${item.id})` : ''}`;
    if (item === null || typeof item !== 'object') throw new Error(`${where}: expected an object`);
    if (typeof item.id === 'string') {
      const first = seen.get(item.id);
      if (first !== undefined) throw new Error(`${where}: duplicate id ${JSON.stringify(item.id)} (also item ${first}); each question must be scored once`);
      seen.set(item.id, index);
    }
    for (const field of ['answer', 'task', 'difficulty'] as const) {
      if (typeof item[field] !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${typeof item[field]}`);
    }
    if (!Array.isArray(item.choices) || item.choices.some((c: unknown) => typeof c !== 'string')) {
      throw new Error(`${where}: field "choices" must be an array of strings`);
    }
    let prediction = '';
    const predicted = item.model_output !== undefined && item.model_output !== null;
    if (!predicted) noPrediction++;
    else if (typeof item.model_output !== 'string') {
      throw new Error(`${where}: field "model_output" must be a string, got ${typeof item.model_output}`);
    } else prediction = item.model_output;
    const correct = mmauIsCorrect(prediction, item.answer, item.choices);
    count(strict, item, correct);
    if (predicted) count(official, item, correct);
    perItem.push({ id: typeof item.id === 'string' ? item.id : undefined, correct });
  });
  finish(strict);
  finish(official);
  return { ...strict, noPrediction, official, perItem };
}

function breakdown(): MmauBreakdown {
  // the official script starts from these keys, so they are always reported
  return { total: cell(), task: { sound: cell(), music: cell(), speech: cell() }, difficulty: { easy: cell(), hard: cell(), medium: cell() }, 'sub-category': {} };
}

function count(b: MmauBreakdown, item: MmauItem, correct: boolean): void {
  const cells = [b.total, (b.task[item.task] ??= cell()), (b.difficulty[item.difficulty] ??= cell())];
  const subCategory = item['sub-category'];
  if (subCategory !== undefined && subCategory !== null) cells.push((b['sub-category'][String(subCategory)] ??= cell()));
  for (const c of cells) {
    c.count++;
    if (correct) c.correct++;
  }
}

function finish(b: MmauBreakdown): void {
  for (const c of [b.total, ...Object.values(b.task), ...Object.values(b.difficulty), ...Object.values(b['sub-category'])]) {
    c.accuracy = c.count > 0 ? (c.correct / c.count) * 100 : 0;
  }
}

/**
 * Puts the model's answers of `predictions` onto the questions of `benchmark` (the MMAU file without
 * answers from the model), by id: every prediction id must be a benchmark question (an error lists
 * those that are not), questions and answers come from the benchmark, and benchmark questions
 * without a prediction have no `model_output`. Score the result with scoreMmau.
 */
export function joinMmauPredictions(benchmark: readonly MmauItem[], predictions: readonly MmauItem[], benchmarkSource = 'benchmark', predictionSource = 'predictions'): MmauItem[] {
  if (!Array.isArray(benchmark)) throw new Error(`${benchmarkSource}: expected a JSON array of MMAU items`);
  if (!Array.isArray(predictions)) throw new Error(`${predictionSource}: expected a JSON array of MMAU items`);
  const byId = new Map<string, MmauItem>();
  benchmark.forEach((item, i) => {
    if (item === null || typeof item !== 'object' || typeof item.id !== 'string') throw new Error(`${benchmarkSource}: item ${i}: field "id" must be a string`);
    if (byId.has(item.id)) throw new Error(`${benchmarkSource}: item ${i}: duplicate id ${JSON.stringify(item.id)}`);
    byId.set(item.id, item);
  });
  const output = new Map<string, MmauItem['model_output']>();
  const unknown: string[] = [];
  predictions.forEach((item, i) => {
    if (item === null || typeof item !== 'object' || typeof item.id !== 'string') throw new Error(`${predictionSource}: item ${i}: field "id" must be a string (needed to match the benchmark)`);
    if (output.has(item.id)) throw new Error(`${predictionSource}: item ${i}: duplicate id ${JSON.stringify(item.id)}; each question must be answered once`);
    if (!byId.has(item.id)) unknown.push(item.id);
    output.set(item.id, item.model_output);
  });
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).map((x) => JSON.stringify(x)).join(', ');
    throw new Error(`${predictionSource}: ${unknown.length} id(s) are not questions of ${benchmarkSource}: ${shown}${unknown.length > 10 ? ', ...' : ''}`);
  }
  return benchmark.map((item) => {
    const { model_output: _ignored, ...question } = item;
    const answer = output.get(item.id as string);
    return answer === undefined ? question : { ...question, model_output: answer };
  });
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
  lines.push(bar, `Total Accuracy: ${report.official.total.accuracy.toFixed(2)}% over ${report.official.total.count} samples (official rule: items without a prediction skipped)`, bar);
  lines.push(`No prediction count: ${report.noPrediction}`);
  lines.push(`Strict accuracy: ${report.total.accuracy.toFixed(2)}% over ${report.total.count} samples (items without a prediction counted as wrong)`);
  return lines.join('\n');
}
