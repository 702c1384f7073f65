/**
 * `convertDataset`: a publisher layout in, AudioTIA JSONL (or an evaluator JSON file) out, with a
 * summary of what was written and what was left out and why.
 *
 * Paths: every `audio` written is relative to the folder of the output file (so the trainer's default,
 * `audioDir: null` = the JSONL's folder, and the evaluator's `--audio-dir <folder of the JSON>` find the
 * clips), except clips the publisher names by an absolute path, which stay absolute.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '@mats/core';
import { JsonlWriter } from '../jsonl.js';
import type { AudioTIARecord } from '../records.js';
import { captionInstruction, classificationAnswer, classificationInstruction } from '../templates.js';
import { CONVERTERS } from './converters.js';
import { readDescriptions, type Descriptions } from './descriptions.js';
import type { Converter, ConverterContext, ConvertItem } from './types.js';

export interface ConvertOptions {
  /** A name of `CONVERTERS` (`mats-data convert --help` lists them). */
  dataset: string;
  /** The data set's root folder, laid out as the publisher ships it. */
  root: string;
  /** The output file: AudioTIA JSONL (`format: 'jsonl'`) or an evaluator JSON array (`format: 'eval'`). */
  out: string;
  split?: string;
  /** Stop after this many records (0 or undefined: all). */
  limit?: number;
  /** A descriptions file (see descriptions.ts): label -> descriptions, or clip -> descriptions. */
  descriptions?: string;
  /** The folder the clips are in, when not where the publisher puts them under `root`. */
  audioDir?: string;
  /** Skip malformed rows (counted, with the first reasons) instead of stopping at the first. */
  skipBad?: boolean;
  /** Leave out records whose audio file does not exist (counted). Default false: text-only training needs no audio. */
  requireAudio?: boolean;
  /**
   * `jsonl` (default): AudioTIA training records. `eval`: the JSON array the evaluator reads
   * (`{id, audio, labels}` / `{id, audio, captions, audioType}` / `{id, audio, question, answer}`).
   */
  format?: 'jsonl' | 'eval';
  /** Also write clip file name -> captions as a descriptions file (caption sets), e.g. for Clotho-AQA. */
  writeDescriptions?: string;
  /** Called every few hundred items with the number of records written (for a progress bar). */
  onProgress?: (records: number) => void;
}

export interface ConvertSummary {
  dataset: string;
  split: string;
  out: string;
  format: 'jsonl' | 'eval';
  /** Records (or evaluation items) written. */
  records: number;
  byTask: Record<string, number>;
  bySource: Record<string, number>;
  /** Rows left out, by reason. */
  skipped: Record<string, number>;
  /** Malformed rows skipped with `skipBad` and the first messages. */
  bad: number;
  badExamples: string[];
  /** Where the text CLAP embeds came from. */
  textFrom: 'captions' | 'descriptions' | 'labels' | 'none';
  /** Things the user must know (e.g. no descriptions file for a classification set). */
  warnings: string[];
  limited: boolean;
}

export function converterNames(): string[] {
  return Object.keys(CONVERTERS);
}

export function getConverter(name: string): Converter {
  const c = CONVERTERS[name];
  if (!c) throw new Error(`unknown dataset "${name}"; one of: ${converterNames().join(', ')}`);
  return c;
}

export async function convertDataset(options: ConvertOptions): Promise<ConvertSummary> {
  const converter = getConverter(options.dataset);
  const format = options.format ?? 'jsonl';
  const split = options.split ?? converter.defaultSplit;
  const root = resolve(options.root);
  if (!existsSync(root)) throw new Error(`--root ${options.root}: folder not found`);
  const out = resolve(options.out);
  const outDir = dirname(out);
  const audioRoots = [root, ...(options.audioDir ? [resolve(options.audioDir)] : [])];
  const descriptions: Descriptions | null = options.descriptions ? readDescriptions(options.descriptions) : null;
  const summary: ConvertSummary = {
    dataset: converter.name, split, out: options.out, format, records: 0, byTask: {}, bySource: {}, skipped: {}, bad: 0, badExamples: [],
    textFrom: format === 'eval' ? 'none' : converter.descriptions === 'none' ? 'captions' : descriptions ? 'descriptions' : 'labels', warnings: [], limited: false,
  };
  if (format === 'jsonl' && converter.descriptions === 'clip' && !descriptions) {
    throw new Error(
      `${converter.name}: ${converter.title} has no description of its clips, and the text-only training embeds one: pass --descriptions FILE ` +
        '(clip file name -> descriptions; for example the captions of the same clips, written by `mats-data convert clotho ... --write-descriptions FILE`)',
    );
  }
  if (format === 'jsonl' && converter.descriptions === 'label' && !descriptions) {
    summary.warnings.push(
      `no --descriptions file: the text of each record is its label names ("dog, rain"), not a description of the sound; the paper wrote descriptions ` +
        'of each class with GPT-4o-mini: pass --descriptions FILE (label -> descriptions) to use yours',
    );
  }
  if (format === 'eval' && converter.task === 'mcq') throw new Error(`${converter.name}: --format eval is not needed for MMAU; the evaluator reads the MMAU JSON itself`);

  const skip = (reason: string) => (summary.skipped[reason] = (summary.skipped[reason] ?? 0) + 1);
  const ctx: ConverterContext = {
    root,
    split,
    skipBad: options.skipBad ?? false,
    audioDir: (fallback) => (options.audioDir ? resolve(options.audioDir) : resolve(root, fallback)),
    bad(message) {
      if (!options.skipBad) throw new Error(`${message} (use --skip-bad to skip such rows)`);
      summary.bad++;
      if (summary.badExamples.length < 10) summary.badExamples.push(message);
    },
    skip,
  };
  const audioPath = (audio: string): string => {
    const abs = resolve(audio);
    if (isAbsolute(audio) && !audioRoots.some((r) => abs.startsWith(r + sep))) return abs;
    return relative(outDir, abs).split(sep).join('/');
  };

  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  const writer = format === 'jsonl' ? new JsonlWriter(out) : null;
  const evalItems: unknown[] = [];
  const captionsByClip = options.writeDescriptions ? new Map<string, string[]>() : null;
  const count = (task: string, source: string) => {
    summary.records++;
    summary.byTask[task] = (summary.byTask[task] ?? 0) + 1;
    summary.bySource[source] = (summary.bySource[source] ?? 0) + 1;
    if (summary.records % 500 === 0) options.onProgress?.(summary.records);
  };
  try {
    for await (const item of converter.items(ctx)) {
      if (summary.records >= limit) {
        summary.limited = true;
        break;
      }
      if (options.requireAudio && !existsSync(item.audio)) {
        skip('audio file not found (--require-audio)');
        continue;
      }
      const audio = audioPath(item.audio);
      const source = (item.kind === 'question' && item.source) || converter.name;
      if (captionsByClip && item.kind === 'caption') captionsByClip.set(basenameOf(item.audio), [...(captionsByClip.get(basenameOf(item.audio)) ?? []), ...item.captions]);
      if (format === 'eval') {
        evalItems.push(evalItem(item, audio));
        count(item.kind === 'labels' ? 'cls' : item.kind === 'caption' ? 'cap' : item.task, source);
        continue;
      }
      for (const record of toRecords(item, audio, converter.name, source, descriptions, skip)) {
        if (summary.records >= limit) {
          summary.limited = true;
          break;
        }
        await writer!.write(record);
        count(record.task, record.source);
      }
    }
  } catch (err) {
    await writer?.abort();
    throw err;
  }
  if (writer) await writer.close();
  else {
    mkdirSync(outDir, { recursive: true });
    writeFileAtomic(out, `${JSON.stringify(evalItems, null, 1)}\n`);
  }
  if (captionsByClip && options.writeDescriptions) {
    mkdirSync(dirname(resolve(options.writeDescriptions)), { recursive: true });
    writeFileSync(options.writeDescriptions, `${JSON.stringify(Object.fromEntries(captionsByClip), null, 1)}\n`);
  }
  if (summary.records === 0) summary.warnings.push(`no records written to ${options.out}: see the skipped rows`);
  return summary;
}

function basenameOf(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function evalItem(item: ConvertItem, audio: string): unknown {
  if (item.kind === 'labels') return { id: item.id, audio, labels: item.labels };
  if (item.kind === 'caption') return { id: item.id, audio, captions: item.captions, audioType: item.audioType };
  return { id: item.id, audio, question: item.question ?? item.instruction, answer: item.answer };
}

/** The AudioTIA records of one item (several for a clip with several captions). */
function* toRecords(item: ConvertItem, audio: string, name: string, source: string, descriptions: Descriptions | null, skip: (reason: string) => void): Generator<AudioTIARecord> {
  const base = { audioType: item.audioType, source, audio };
  if (item.kind === 'caption') {
    for (const [i, c] of item.captions.entries()) yield { id: `${name}/${item.id}/${i}`, text: c, instruction: captionInstruction(item.audioType), answer: c, task: 'cap', ...base };
    return;
  }
  if (item.kind === 'labels') {
    let text = item.labels.join(', ');
    if (descriptions) {
      const parts: string[] = [];
      for (const label of item.labels) {
        const d = descriptions.pick(label, item.id);
        if (d === undefined) {
          skip(`no description for label "${label}" in ${descriptions.file}`);
          return;
        }
        parts.push(d);
      }
      text = parts.join(' ');
    }
    yield { id: `${name}/${item.id}`, text, instruction: classificationInstruction(), answer: classificationAnswer(item.labels), task: 'cls', ...base };
    return;
  }
  const text = descriptions?.pick(item.clipKey, item.id);
  if (text === undefined) {
    skip(`no description of the clip in ${descriptions?.file}`);
    return;
  }
  yield { id: `${name}/${item.id}`, text, instruction: item.instruction, answer: item.answer, task: item.task, ...base };
}

/** The summary as a few lines for the terminal. */
export function formatSummary(s: ConvertSummary): string {
  const lines = [`${s.dataset} (${s.split}): ${s.records} ${s.format === 'eval' ? 'evaluation items' : 'records'} -> ${s.out}${s.limited ? ' (stopped at --limit)' : ''}`];
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  lines.push(`  by task: ${kv(s.byTask)}`);
  lines.push(`  by source: ${kv(s.bySource)}`);
  if (s.format === 'jsonl') lines.push(`  text from: ${s.textFrom}`);
  for (const [reason, n] of Object.entries(s.skipped)) lines.push(`  skipped ${n}: ${reason}`);
  if (s.bad > 0) lines.push(`  skipped ${s.bad} malformed row(s) (--skip-bad), first: ${s.badExamples[0]}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}
