/**
 * Loaders for the real datasets the paper trains and tests on, reading the files as their publishers
 * ship them. Each returns evaluation items (audio path + labels / reference captions / question and
 * answer); `*Records` helpers turn them into text-only AudioTIA training records.
 *
 * Audio paths are joined from `audioDir` (default: the publisher's folder next to the metadata file)
 * and the file name in the metadata; files are not opened here.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readCsvRows, field, numberField, skipOrThrow, type LoadStats, type CsvRow } from './csv.js';
import { streamJsonArray } from './json-stream.js';
import type { AudioTIARecord, AudioType } from '../records.js';
import { captionInstruction, classificationAnswer, classificationInstruction } from '../templates.js';

export interface LoaderOptions {
  /** Folder the audio file names are relative to. */
  audioDir?: string;
  /** Skip malformed rows instead of throwing; they are counted in `stats`. */
  skipBad?: boolean;
  onSkip?: (message: string) => void;
  stats?: LoadStats;
}

/** A clip with reference captions (Clotho, AudioCaps, MusicCaps). */
export interface CaptionSet {
  id: string;
  audio: string;
  captions: string[];
}

/** A clip with class labels (ESC-50, UrbanSound8K, FSD50K). */
export interface LabeledClip {
  id: string;
  audio: string;
  labels: string[];
  /** Cross-validation fold (ESC-50, UrbanSound8K) when the dataset has folds. */
  fold?: number;
  /** The publisher's split ("train" / "val" for FSD50K dev.csv). */
  split?: string;
}

/** An AQA item (ClothoAQA): all annotators' answers and the majority answer. */
export interface AqaQuestion {
  id: string;
  audio: string;
  question: string;
  answers: string[];
  answer: string;
  /** True when the majority answer is yes or no. */
  binary: boolean;
}

/** "chirping_birds" -> "chirping birds" (labels are compared as text, so use words). */
export function humanLabel(label: string): string {
  return label.replace(/_/g, ' ').trim();
}

const csvOptions = (o: LoaderOptions) => ({ skipBad: o.skipBad, onSkip: o.onSkip, stats: o.stats });

async function rowsOf(path: string, required: readonly string[], o: LoaderOptions, fn: (r: CsvRow) => void, columns?: readonly string[]): Promise<void> {
  for await (const r of readCsvRows(path, { ...csvOptions(o), required, columns })) {
    try {
      fn(r);
    } catch (err) {
      skipOrThrow(o, (err as Error).message);
    }
  }
}

// ---------------- captioning ----------------

/**
 * Clotho v2 captions CSV (`clotho_captions_{development,validation,evaluation}.csv`):
 * columns file_name, caption_1 .. caption_5. Audio default: `<csv dir>/<split>/` is not guessable, so
 * pass `audioDir` (e.g. `clotho/development`); without it paths are relative to the CSV's folder.
 */
export async function readClothoCaptions(csvPath: string, o: LoaderOptions = {}): Promise<CaptionSet[]> {
  const dir = o.audioDir ?? dirname(csvPath);
  const cols = ['file_name', 'caption_1', 'caption_2', 'caption_3', 'caption_4', 'caption_5'];
  const out: CaptionSet[] = [];
  await rowsOf(csvPath, cols, o, (r) => {
    const name = field(csvPath, r, 'file_name');
    out.push({ id: name, audio: join(dir, name), captions: cols.slice(1).map((c) => field(csvPath, r, c).trim()) });
  });
  return out;
}

/**
 * AudioCaps CSV (`train.csv`, `val.csv`, `test.csv`): columns audiocap_id, youtube_id, start_time, caption;
 * one row per caption (val/test have 5 rows per clip). Rows of the same clip are grouped. Audio file
 * names are not part of the release; the default `<youtube_id>_<start_time>.wav` can be changed with `audioFile`.
 */
export async function readAudioCaps(csvPath: string, o: LoaderOptions & { audioFile?: (youtubeId: string, startTime: number) => string } = {}): Promise<CaptionSet[]> {
  const dir = o.audioDir ?? dirname(csvPath);
  const name = o.audioFile ?? ((y: string, s: number) => `${y}_${s}.wav`);
  const byClip = new Map<string, CaptionSet>();
  await rowsOf(csvPath, ['audiocap_id', 'youtube_id', 'start_time', 'caption'], o, (r) => {
    numberField(csvPath, r, 'audiocap_id');
    const y = field(csvPath, r, 'youtube_id');
    const s = numberField(csvPath, r, 'start_time');
    const key = `${y}_${s}`;
    let set = byClip.get(key);
    if (!set) byClip.set(key, (set = { id: key, audio: join(dir, name(y, s)), captions: [] }));
    set.captions.push(field(csvPath, r, 'caption').trim());
  });
  return [...byClip.values()];
}

export interface MusicCapsItem extends CaptionSet {
  startS: number;
  endS: number;
  /** AudioSet label ids (audioset_positive_labels). */
  audiosetLabels: string[];
  /** The aspect list (musical attributes written by the annotator). */
  aspects: string[];
  isBalancedSubset: boolean;
  isAudiosetEval: boolean;
}

/** Parses MusicCaps' Python-literal lists: "['low quality', \"80's pop\"]". */
export function parsePythonStringList(text: string, where: string): string[] {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) throw new Error(`${where}: expected a list like ['a', 'b'], got ${t.slice(0, 40)}`);
  const out: string[] = [];
  let i = 1;
  while (i < t.length - 1) {
    const ch = t[i];
    if (ch === ' ' || ch === ',') {
      i++;
      continue;
    }
    if (ch !== "'" && ch !== '"') throw new Error(`${where}: unexpected "${ch}" in list ${t.slice(0, 40)}`);
    let s = '';
    i++;
    while (i < t.length - 1 && t[i] !== ch) {
      if (t[i] === '\\' && i + 1 < t.length - 1) i++;
      s += t[i++];
    }
    if (t[i] !== ch) throw new Error(`${where}: unterminated string in list ${t.slice(0, 40)}`);
    out.push(s);
    i++;
  }
  return out;
}

/**
 * MusicCaps (`musiccaps-public.csv`): ytid, start_s, end_s, audioset_positive_labels, aspect_list, caption,
 * author_id, is_balanced_subset, is_audioset_eval. Audio default `<ytid>.wav` (change with `audioFile`).
 */
export async function readMusicCaps(csvPath: string, o: LoaderOptions & { audioFile?: (ytid: string, startS: number) => string } = {}): Promise<MusicCapsItem[]> {
  const dir = o.audioDir ?? dirname(csvPath);
  const name = o.audioFile ?? ((y: string) => `${y}.wav`);
  const out: MusicCapsItem[] = [];
  const cols = ['ytid', 'start_s', 'end_s', 'audioset_positive_labels', 'aspect_list', 'caption', 'is_balanced_subset', 'is_audioset_eval'];
  await rowsOf(csvPath, cols, o, (r) => {
    const ytid = field(csvPath, r, 'ytid');
    const startS = numberField(csvPath, r, 'start_s');
    const where = `${csvPath}: row ${r.row} (line ${r.line})`;
    out.push({
      id: ytid,
      audio: join(dir, name(ytid, startS)),
      captions: [field(csvPath, r, 'caption').trim()],
      startS,
      endS: numberField(csvPath, r, 'end_s'),
      audiosetLabels: r.values.audioset_positive_labels.split(',').map((s) => s.trim()).filter(Boolean),
      aspects: parsePythonStringList(field(csvPath, r, 'aspect_list'), `${where}: column "aspect_list"`),
      isBalancedSubset: bool(r.values.is_balanced_subset, `${where}: column "is_balanced_subset"`),
      isAudiosetEval: bool(r.values.is_audioset_eval, `${where}: column "is_audioset_eval"`),
    });
  });
  return out;
}

function bool(v: string, where: string): boolean {
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new Error(`${where}: expected True or False, got "${v}"`);
}

/** Captioning records: one per reference caption (text = answer = the caption, as in Table S8). */
export function captionRecords(sets: readonly CaptionSet[], source: string, audioType: AudioType): AudioTIARecord[] {
  return sets.flatMap((s) =>
    s.captions.map((c, i) => ({ id: `${source}/${s.id}/${i}`, text: c, instruction: captionInstruction(audioType), answer: c, task: 'cap' as const, audioType, source, audio: s.audio })),
  );
}

// ---------------- classification ----------------

/**
 * ESC-50 `meta/esc50.csv`: filename, fold, target, category, esc10, src_file, take. Audio in `<root>/audio/`.
 * Labels are the category with "_" as spaces ("chirping_birds" -> "chirping birds"). `folds` keeps only those folds.
 */
export async function readEsc50(csvPath: string, o: LoaderOptions & { folds?: number[] } = {}): Promise<LabeledClip[]> {
  const dir = o.audioDir ?? join(dirname(csvPath), '..', 'audio');
  const out: LabeledClip[] = [];
  await rowsOf(csvPath, ['filename', 'fold', 'target', 'category', 'esc10', 'src_file', 'take'], o, (r) => {
    const fold = numberField(csvPath, r, 'fold');
    numberField(csvPath, r, 'target');
    if (o.folds && !o.folds.includes(fold)) return;
    const name = field(csvPath, r, 'filename');
    out.push({ id: name, audio: join(dir, name), labels: [humanLabel(field(csvPath, r, 'category'))], fold });
  });
  return out;
}

/**
 * UrbanSound8K `metadata/UrbanSound8K.csv`: slice_file_name, fsID, start, end, salience, fold, classID, class.
 * Audio in `<root>/audio/fold<fold>/<slice_file_name>`.
 */
export async function readUrbanSound8k(csvPath: string, o: LoaderOptions & { folds?: number[] } = {}): Promise<LabeledClip[]> {
  const dir = o.audioDir ?? join(dirname(csvPath), '..', 'audio');
  const out: LabeledClip[] = [];
  await rowsOf(csvPath, ['slice_file_name', 'fsID', 'start', 'end', 'salience', 'fold', 'classID', 'class'], o, (r) => {
    const fold = numberField(csvPath, r, 'fold');
    numberField(csvPath, r, 'classID');
    if (o.folds && !o.folds.includes(fold)) return;
    const name = field(csvPath, r, 'slice_file_name');
    out.push({ id: name, audio: join(dir, `fold${fold}`, name), labels: [humanLabel(field(csvPath, r, 'class'))], fold });
  });
  return out;
}

/**
 * FSD50K ground truth (`FSD50K.ground_truth/dev.csv`: fname, labels, mids, split; `eval.csv`: fname, labels, mids).
 * `labels` is a comma-separated list inside one quoted field (multi-label). Audio default:
 * `<root>/FSD50K.dev_audio/` for dev.csv and `<root>/FSD50K.eval_audio/` for eval.csv.
 * `split` ("train" | "val") keeps only those dev rows.
 */
export async function readFsd50k(csvPath: string, o: LoaderOptions & { split?: 'train' | 'val' } = {}): Promise<LabeledClip[]> {
  const isEval = /eval\.csv$/.test(csvPath);
  const dir = o.audioDir ?? join(dirname(csvPath), '..', isEval ? 'FSD50K.eval_audio' : 'FSD50K.dev_audio');
  const out: LabeledClip[] = [];
  await rowsOf(csvPath, isEval ? ['fname', 'labels', 'mids'] : ['fname', 'labels', 'mids', 'split'], o, (r) => {
    const split = isEval ? undefined : field(csvPath, r, 'split');
    if (o.split && split !== o.split) return;
    const name = field(csvPath, r, 'fname');
    const labels = field(csvPath, r, 'labels').split(',').map(humanLabel).filter(Boolean);
    const mids = field(csvPath, r, 'mids').split(',').filter(Boolean);
    if (mids.length !== labels.length) {
      throw new Error(`${csvPath}: row ${r.row} (line ${r.line}): ${labels.length} labels but ${mids.length} mids`);
    }
    out.push({ id: name, audio: join(dir, `${name}.wav`), labels, ...(split ? { split } : {}) });
  });
  return out;
}

/** FSD50K `vocabulary.csv` (no header): index, label, mid. Labels with "_" as spaces. */
export async function readFsd50kVocabulary(csvPath: string, o: LoaderOptions = {}): Promise<{ index: number; label: string; mid: string }[]> {
  const out: { index: number; label: string; mid: string }[] = [];
  await rowsOf(csvPath, [], o, (r) => {
    out.push({ index: numberField(csvPath, r, 'index'), label: humanLabel(field(csvPath, r, 'label')), mid: field(csvPath, r, 'mid') });
  }, ['index', 'label', 'mid']);
  return out;
}

/**
 * Classification records: text = a description of the clip (default: its labels joined with ", ";
 * the paper uses GPT-written descriptions, pass `describe` to supply them), answer = the labels.
 */
export function classificationRecords(clips: readonly LabeledClip[], source: string, audioType: AudioType, describe: (c: LabeledClip) => string = (c) => c.labels.join(', ')): AudioTIARecord[] {
  return clips.map((c) => ({ id: `${source}/${c.id}`, text: describe(c), instruction: classificationInstruction(), answer: classificationAnswer(c.labels), task: 'cls' as const, audioType, source, audio: c.audio }));
}

// ---------------- question answering ----------------

/**
 * ClothoAQA CSV (`clotho_aqa_{train,val,test}.csv`): file_name, QuestionText, answer, confidence; each
 * question appears once per annotator (3 rows). Rows are grouped by (file, question); `answer` is the
 * most frequent answer (first seen on ties). Audio in `<root>/audio_files/`.
 */
export async function readClothoAqa(csvPath: string, o: LoaderOptions = {}): Promise<AqaQuestion[]> {
  const dir = o.audioDir ?? join(dirname(csvPath), 'audio_files');
  const groups = new Map<string, AqaQuestion>();
  await rowsOf(csvPath, ['file_name', 'QuestionText', 'answer'], o, (r) => {
    const name = field(csvPath, r, 'file_name');
    const question = field(csvPath, r, 'QuestionText').trim();
    const key = `${name}\u0000${question}`;
    let q = groups.get(key);
    if (!q) groups.set(key, (q = { id: `${name}#${groups.size}`, audio: join(dir, name), question, answers: [], answer: '', binary: false }));
    q.answers.push(field(csvPath, r, 'answer').trim());
  });
  for (const q of groups.values()) {
    const counts = new Map<string, number>();
    for (const a of q.answers) counts.set(a.toLowerCase(), (counts.get(a.toLowerCase()) ?? 0) + 1);
    let best = q.answers[0].toLowerCase();
    for (const [a, n] of counts) if (n > (counts.get(best) ?? 0)) best = a;
    q.answer = best;
    q.binary = best === 'yes' || best === 'no';
  }
  return [...groups.values()];
}

/**
 * AQA records. The text that CLAP embeds must describe the audio; ClothoAQA has none, so pass
 * `textFor` (e.g. the Clotho captions of the same file). Items without a text are an error, or skipped
 * and counted with `skipBad`.
 */
export function aqaRecords(items: readonly AqaQuestion[], source: string, audioType: AudioType, textFor: (item: AqaQuestion) => string | undefined, o: Omit<LoaderOptions, 'audioDir'> = {}): AudioTIARecord[] {
  const out: AudioTIARecord[] = [];
  for (const q of items) {
    const text = textFor(q);
    if (text === undefined) {
      skipOrThrow(o, `${source}: no description text for ${q.audio} (question "${q.question}")`);
      continue;
    }
    out.push({ id: `${source}/${q.id}`, text, instruction: q.question, answer: q.answer, task: 'aqa', audioType, source, audio: q.audio });
  }
  return out;
}

export interface OpenAqaItem {
  instruction: string;
  input: string;
  audio_id: string;
  dataset?: string;
  task?: string;
  output: string;
}

/**
 * OpenAQA (LTU) JSON: one array of { instruction, input, audio_id, dataset?, task?, output }. Streamed
 * element by element (the full file is 5.6 M items, 2.3 GB). Malformed elements are errors naming the
 * element index and line, or skipped and counted with `skipBad`.
 */
export async function* streamOpenAqa(jsonPath: string, o: Omit<LoaderOptions, 'audioDir'> = {}): AsyncGenerator<OpenAqaItem> {
  for await (const { value, index, line } of streamJsonArray(jsonPath)) {
    const v = value as Record<string, unknown>;
    const bad = ['instruction', 'audio_id', 'output'].find((k) => typeof v?.[k] !== 'string');
    if (bad) {
      skipOrThrow(o, `${jsonPath}: element ${index} (line ${line}): field "${bad}" must be a string, got ${JSON.stringify(v?.[bad])}`);
      continue;
    }
    if (o.stats) o.stats.rows++;
    yield { instruction: v.instruction as string, input: typeof v.input === 'string' ? v.input : '', audio_id: v.audio_id as string, dataset: v.dataset as string | undefined, task: v.task as string | undefined, output: v.output as string };
  }
}

/**
 * An OpenAQA item as an AudioTIA record. Task mapping: "cla_label*" -> cls, "caption*" -> cap, the rest
 * (open-ended / closed-ended questions) -> aqa. `text` describes the audio (e.g. a caption of the same clip).
 */
export function openAqaRecord(item: OpenAqaItem, text: string, index: number, audioType: AudioType = 'sound'): AudioTIARecord {
  const t = (item.task ?? '').toLowerCase();
  const task = t.startsWith('cla') ? 'cls' : t.startsWith('caption') ? 'cap' : 'aqa';
  return { id: `openaqa/${index}`, text, instruction: item.instruction, answer: item.output, task, audioType, source: item.dataset ? `openaqa/${item.dataset}` : 'openaqa', audio: item.audio_id };
}

// ---------------- MMAU ----------------

export interface MmauQuestion {
  id: string;
  audio_id: string;
  question: string;
  choices: string[];
  answer: string;
  dataset: string;
  task: string;
  split: string;
  category: string;
  'sub-category': string;
  difficulty: string;
}

/**
 * MMAU JSON (`mmau-test-mini.json`, `mmau-test.json`): an array of items with id, audio_id, question,
 * choices, answer, dataset, task, split, category, sub-category, difficulty. Every item is checked;
 * the answer must be one of the choices (the test split ships without answers: pass `requireAnswer: false`).
 */
export function readMmau(jsonPath: string, o: { requireAnswer?: boolean } = {}): MmauQuestion[] {
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: file not found`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new Error(`${jsonPath}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new Error(`${jsonPath}: expected a JSON array of MMAU items`);
  const requireAnswer = o.requireAnswer ?? true;
  return data.map((item, i) => {
    const v = item as Record<string, unknown>;
    for (const k of ['id', 'audio_id', 'question', 'task']) {
      if (typeof v?.[k] !== 'string') throw new Error(`${jsonPath}: item ${i}: field "${k}" must be a string, got ${JSON.stringify(v?.[k])}`);
    }
    if (!Array.isArray(v.choices) || v.choices.some((c) => typeof c !== 'string')) throw new Error(`${jsonPath}: item ${i} (${v.id}): field "choices" must be an array of strings`);
    if (requireAnswer && !(v.choices as string[]).includes(v.answer as string)) {
      throw new Error(`${jsonPath}: item ${i} (${v.id}): answer ${JSON.stringify(v.answer)} is not one of the choices`);
    }
    return v as unknown as MmauQuestion;
  });
}
