import { isAbsolute, resolve } from 'node:path';
import { aqaAccuracy, computeCaptionMetrics, matchPredictionsToLabels, meanAveragePrecision, scoreMmau, type MmauItem } from '@mats/bench';
import { captionInstruction, classificationInstruction, mmauPrompt } from '@mats/datasets';
import { type EvalTask, type MatsConfig, readJson, resolvePath } from '@mats/app-shared';
import type { Answer, AskItem, OpenRun } from './model.js';

/** One row of a Markdown table: a name and its cells. */
export type TableRow = (string | number)[];

export interface TaskOutcome {
  task: EvalTask;
  /** The headline number of the task and its name (MMAU accuracy %, ACC %, CIDEr-D). */
  headline: { metric: string; value: number; chance: number; chanceNote: string };
  /** Everything computed, for report.json. */
  metrics: Record<string, unknown>;
  /** Markdown tables (title, header, rows). */
  tables: { title: string; header: string[]; rows: TableRow[] }[];
  /** The predictions file, in the format the task's official tools read. */
  predictions: unknown;
  failures: { id: string; audio: string; error: string }[];
  items: number;
}

/** A prepared task: what to ask, and how to score the answers. */
export interface PreparedTask {
  task: EvalTask;
  data: string;
  items: AskItem[];
  score(answers: Answer[], run: OpenRun): Promise<TaskOutcome>;
}

function fail(file: string, index: number, field: string, expected: string, got: unknown): never {
  throw new Error(`${file}: item ${index}: field "${field}" must be ${expected}, got ${JSON.stringify(got)?.slice(0, 80)}`);
}

function readItems(file: string): Record<string, unknown>[] {
  const value = readJson<unknown>(file, 'evaluation data');
  if (!Array.isArray(value)) throw new Error(`${file}: expected a JSON array of items, got ${typeof value}`);
  if (value.length === 0) throw new Error(`${file}: has no items`);
  value.forEach((item, i) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error(`${file}: item ${i} is not an object`);
  });
  return value as Record<string, unknown>[];
}

function str(file: string, item: Record<string, unknown>, i: number, field: string): string {
  const v = item[field];
  if (typeof v !== 'string' || v.length === 0) fail(file, i, field, 'a non-empty string', v);
  return v as string;
}

function strings(file: string, item: Record<string, unknown>, i: number, field: string): string[] {
  const v = item[field];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string')) fail(file, i, field, 'a non-empty list of strings', v);
  return v as string[];
}

function audioPath(audioDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(audioDir, path);
}

function limited<T>(items: T[], limit: number): T[] {
  return limit > 0 ? items.slice(0, limit) : items;
}

function pct(correct: number, count: number): number {
  return count > 0 ? (100 * correct) / count : 0;
}

function failuresOf(items: AskItem[], answers: Answer[]) {
  const byId = new Map(items.map((i) => [i.id, i]));
  return answers.filter((a) => a.error !== null).map((a) => ({ id: a.id, audio: byId.get(a.id)!.audio, error: a.error! }));
}

function checkUniqueIds(file: string, ids: string[]): void {
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (seen.has(id)) throw new Error(`${file}: item ${i}: id "${id}" appears more than once`);
    seen.add(id);
  });
}

/** MMAU: the benchmark JSON, answered with the paper's prompt, scored by the official rule. */
export function prepareMmau(config: MatsConfig): PreparedTask {
  const file = resolvePath(config.eval.mmau.data);
  const audioDir = resolvePath(config.eval.mmau.audioDir);
  const raw = limited(readItems(file), config.eval.limit);
  const items: AskItem[] = raw.map((item, i) => {
    const choices = strings(file, item, i, 'choices');
    const answer = str(file, item, i, 'answer');
    str(file, item, i, 'task');
    str(file, item, i, 'difficulty');
    if (!choices.includes(answer)) fail(file, i, 'answer', `one of the choices ${JSON.stringify(choices)}`, answer);
    return { id: str(file, item, i, 'id'), audio: audioPath(audioDir, str(file, item, i, 'audio_id')), prompt: mmauPrompt(str(file, item, i, 'question'), choices) };
  });
  checkUniqueIds(file, items.map((i) => i.id));
  return {
    task: 'mmau',
    data: file,
    items,
    async score(answers) {
      // The benchmark items unchanged, with `model_output` added: what MMAU's evaluation.py reads.
      const predictions = raw.map((item, i) => ({ ...item, model_output: answers[i].output }));
      const report = scoreMmau(predictions as MmauItem[]);
      const chance = raw.reduce((s, item) => s + 100 / (item.choices as string[]).length, 0) / raw.length;
      const { perItem: _perItem, ...summary } = report;
      const cellRows = (group: Record<string, { correct: number; count: number; accuracy: number }>) =>
        Object.entries(group)
          .filter(([, c]) => c.count > 0)
          .map(([k, c]) => [k, c.count, c.correct, c.accuracy.toFixed(2)] as TableRow);
      return {
        task: 'mmau',
        headline: { metric: 'MMAU accuracy %', value: report.total.accuracy, chance, chanceNote: 'mean of 100 / number of choices' },
        metrics: { ...summary, chance },
        tables: [
          { title: 'Total', header: ['', 'items', 'correct', 'accuracy %'], rows: [['total', report.total.count, report.total.correct, report.total.accuracy.toFixed(2)], ['chance', report.total.count, '', chance.toFixed(2)]] },
          { title: 'By task', header: ['task', 'items', 'correct', 'accuracy %'], rows: cellRows(report.task) },
          { title: 'By difficulty', header: ['difficulty', 'items', 'correct', 'accuracy %'], rows: cellRows(report.difficulty) },
          { title: 'By sub-category', header: ['sub-category', 'items', 'correct', 'accuracy %'], rows: cellRows(report['sub-category']) },
        ],
        predictions,
        failures: failuresOf(items, answers),
        items: items.length,
      };
    },
  };
}

/** Event classification by text matching: each generated text is matched to the closest label with the CLAP text encoder. */
export function prepareClassify(config: MatsConfig): PreparedTask {
  const file = resolvePath(config.eval.classify.data);
  const audioDir = resolvePath(config.eval.classify.audioDir);
  const raw = limited(readItems(file), config.eval.limit);
  const parsed = raw.map((item, i) => ({ id: str(file, item, i, 'id'), audio: audioPath(audioDir, str(file, item, i, 'audio')), labels: strings(file, item, i, 'labels') }));
  checkUniqueIds(file, parsed.map((p) => p.id));
  let labels: string[];
  if (config.eval.classify.labels) {
    const labelFile = resolvePath(config.eval.classify.labels);
    const value = readJson<unknown>(labelFile, 'label set');
    if (!Array.isArray(value) || value.length === 0 || value.some((l) => typeof l !== 'string')) throw new Error(`eval.classify.labels: ${labelFile} must be a JSON list of label strings`);
    labels = value as string[];
  } else {
    labels = [...new Set(parsed.flatMap((p) => p.labels))].sort();
  }
  const labelSet = new Set(labels);
  parsed.forEach((p, i) => p.labels.forEach((l) => {
    if (!labelSet.has(l)) fail(file, i, 'labels', `labels from the label set (${labels.length} labels)`, l);
  }));
  const items: AskItem[] = parsed.map((p) => ({ id: p.id, audio: p.audio, prompt: classificationInstruction() }));
  return {
    task: 'classify',
    data: file,
    items,
    async score(answers, run) {
      // Failed items and outputs without a single word have nothing to match: they count as wrong and
      // get the lowest score for mAP.
      const hasWords = (t: string) => /[\p{L}\p{N}]/u.test(t);
      const ok = answers.map((a, i) => ({ a, i })).filter(({ a }) => a.error === null && hasWords(a.output));
      const emptyOutputs = answers.filter((a) => a.error === null && !hasWords(a.output)).length;
      const match = ok.length > 0 ? await matchPredictionsToLabels(ok.map(({ a }) => a.output), labels, run.clap, { multiLabelSeparator: ',' }) : { scores: [], predictedLabel: [] as string[] };
      const predicted: (string | null)[] = answers.map(() => null);
      const scores: number[][] = answers.map(() => labels.map(() => -2));
      ok.forEach(({ i }, k) => {
        predicted[i] = match.predictedLabel[k];
        scores[i] = match.scores[k];
      });
      let correct = 0;
      parsed.forEach((p, i) => {
        if (predicted[i] !== null && p.labels.includes(predicted[i]!)) correct++;
      });
      const targets = parsed.map((p) => labels.map((l) => (p.labels.includes(l) ? 1 : 0)));
      const mAP = 100 * meanAveragePrecision(scores, targets);
      const acc = pct(correct, parsed.length);
      const chance = (100 * parsed.reduce((s, p) => s + p.labels.length, 0)) / parsed.length / labels.length;
      const multiLabel = parsed.some((p) => p.labels.length > 1);
      return {
        task: 'classify',
        headline: { metric: 'ACC %', value: acc, chance, chanceNote: `a random label out of ${labels.length} is one of the item's labels` },
        metrics: { accuracy: acc, correct, count: parsed.length, mAP, labels: labels.length, multiLabel, emptyOutputs, chance },
        tables: [
          {
            title: 'Classification (text matching with the CLAP text encoder)',
            header: ['metric', 'value', 'chance'],
            rows: [
              ['ACC % (best-matching label is one of the item labels)', acc.toFixed(2), chance.toFixed(2)],
              ['mAP % (label scores = cosine similarity)', mAP.toFixed(2), ''],
              ['items', parsed.length, ''],
              ['outputs without any word (counted as wrong)', emptyOutputs, ''],
            ],
          },
        ],
        predictions: parsed.map((p, i) => ({ id: p.id, audio: p.audio, labels: p.labels, prediction: answers[i].output, matchedLabel: predicted[i], error: answers[i].error })),
        failures: failuresOf(items, answers),
        items: items.length,
      };
    },
  };
}

/** Captioning, scored with BLEU, ROUGE-L and CIDEr-D as pycocoevalcap computes them. */
export function prepareCaption(config: MatsConfig): PreparedTask {
  const file = resolvePath(config.eval.caption.data);
  const audioDir = resolvePath(config.eval.caption.audioDir);
  const raw = limited(readItems(file), config.eval.limit);
  const parsed = raw.map((item, i) => ({
    id: str(file, item, i, 'id'),
    audio: audioPath(audioDir, str(file, item, i, 'audio')),
    captions: strings(file, item, i, 'captions'),
    music: item.audioType === 'music',
  }));
  checkUniqueIds(file, parsed.map((p) => p.id));
  const items: AskItem[] = parsed.map((p) => ({ id: p.id, audio: p.audio, prompt: captionInstruction(p.music ? 'music' : 'sound') }));
  return {
    task: 'caption',
    data: file,
    items,
    async score(answers) {
      const references: Record<string, string[]> = Object.fromEntries(parsed.map((p) => [p.id, p.captions]));
      const predictions: Record<string, string> = Object.fromEntries(parsed.map((p, i) => [p.id, answers[i].output]));
      const m = computeCaptionMetrics(predictions, references);
      // Chance-like baseline: each item "predicted" by the first reference of another item (a fluent
      // caption of an unrelated clip of the same set).
      const shuffled: Record<string, string> = Object.fromEntries(parsed.map((p, i) => [p.id, parsed[(i + 1) % parsed.length].captions[0]]));
      const baseline = computeCaptionMetrics(shuffled, references);
      const keys = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr'] as const;
      const { perItem: _p, ...corpus } = m;
      const { perItem: _b, ...baselineCorpus } = baseline;
      return {
        task: 'caption',
        headline: { metric: 'CIDEr-D', value: m.CIDEr, chance: baseline.CIDEr, chanceNote: "another item's reference caption" },
        metrics: { ...corpus, baselineOtherItemCaption: baselineCorpus, count: parsed.length },
        tables: [
          {
            title: 'Captioning (pycocoevalcap metrics)',
            header: ['metric', 'model', "baseline: another item's caption"],
            rows: [
              ...keys.map((k) => [k === 'CIDEr' ? 'CIDEr-D' : k, (m[k] as number).toFixed(4), (baseline[k] as number).toFixed(4)] as TableRow),
              ['SPICE', m.SPICE === null ? `unavailable (${m.spiceUnavailableReason ?? 'no SPICE jar'})` : m.SPICE.toFixed(4), ''],
            ],
          },
        ],
        predictions: parsed.map((p, i) => ({ id: p.id, caption: answers[i].output })),
        failures: failuresOf(items, answers),
        items: items.length,
      };
    },
  };
}

/** Audio question answering: ACC and binary (yes/no) ACC. */
export function prepareAqa(config: MatsConfig): PreparedTask {
  const file = resolvePath(config.eval.aqa.data);
  const audioDir = resolvePath(config.eval.aqa.audioDir);
  const raw = limited(readItems(file), config.eval.limit);
  const parsed = raw.map((item, i) => ({ id: str(file, item, i, 'id'), audio: audioPath(audioDir, str(file, item, i, 'audio')), question: str(file, item, i, 'question'), answer: str(file, item, i, 'answer') }));
  checkUniqueIds(file, parsed.map((p) => p.id));
  const items: AskItem[] = parsed.map((p) => ({ id: p.id, audio: p.audio, prompt: p.question }));
  return {
    task: 'aqa',
    data: file,
    items,
    async score(answers) {
      const report = aqaAccuracy(parsed.map((p, i) => ({ prediction: answers[i].output, answer: p.answer })));
      // Chance: always answering the most frequent answer of the set.
      const counts = new Map<string, number>();
      for (const p of parsed) counts.set(p.answer.toLowerCase(), (counts.get(p.answer.toLowerCase()) ?? 0) + 1);
      const majority = Math.max(...counts.values());
      const chance = pct(majority, parsed.length);
      const all = pct(report.all.correct, report.all.count);
      const binary = pct(report.binary.correct, report.binary.count);
      return {
        task: 'aqa',
        headline: { metric: 'AQA ACC %', value: all, chance, chanceNote: 'always the most frequent answer' },
        metrics: { accuracy: all, binaryAccuracy: binary, all: report.all, binary: report.binary, chance },
        tables: [
          {
            title: 'Audio question answering',
            header: ['metric', 'items', 'correct', 'value %'],
            rows: [
              ['ACC', report.all.count, report.all.correct, all.toFixed(2)],
              ['binary ACC (yes/no questions)', report.binary.count, report.binary.correct, binary.toFixed(2)],
              ['chance (most frequent answer)', parsed.length, majority, chance.toFixed(2)],
            ],
          },
        ],
        predictions: parsed.map((p, i) => ({ id: p.id, question: p.question, answer: p.answer, prediction: answers[i].output, error: answers[i].error })),
        failures: failuresOf(items, answers),
        items: items.length,
      };
    },
  };
}

export function prepareTask(task: EvalTask, config: MatsConfig): PreparedTask {
  switch (task) {
    case 'mmau':
      return prepareMmau(config);
    case 'classify':
      return prepareClassify(config);
    case 'caption':
      return prepareCaption(config);
    case 'aqa':
      return prepareAqa(config);
  }
}
